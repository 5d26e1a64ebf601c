/**
 * Real RTP bytes. SIPp 3.6.1 ships pcap files (/usr/share/sip-tester/*.pcap); these are UDP payloads
 * extracted with `tshark -T fields -e data`.
 */

export const hex = (s: string): Uint8Array => Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((b) => parseInt(b, 16)));
export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** g711a.pcap packet 1: M=1, PT 8 (PCMA), seq 0xE6FD, ts 240, SSRC 0xDEE0EE8F, 240 bytes of A-law silence (30 ms). */
export const G711A_FIRST = hex("8088e6fd000000f0dee0ee8f" + "d5".repeat(240));
/** g711a.pcap packet 100: M=0, seq 0xE760, ts 0x5DC0, speech. */
export const G711A_SPEECH = hex("8008e76000005dc0dee0ee8fe1edede99595919795edede5fdc5d54a4a4a4a724a4a4a5a5ad5d5d5d5d5d55a5a5a5a4a727a7a7a7a66667a724a4a724a5a5a5a5a5ad5d55ad5c5c5c5f5c5f5fdfdfde1ededede9959597919397e9ede1e5f5d55a4a5a4a4a4a4a5ad5d55a5ad5d5d5d5d55a5a5a5a4a4a4a72727a7a7a7a72727272724a4a4a5a5a5a5a5a5ad5d5c5d5d5c5f5f5fde5e1e1ede9e9959197e9ede1e5fdc5d54a4a4a727a72724a5a5a4a5a5a5a5a5a4a4a4a4a727272727a7a7a7a7a7a7a72727a7a727272727272724a4a4a5a5a5ad5d5c5f5fdfde5e1ede99595e9ede1e5fdc5d54a727a7a6666667a7a724a4a4a4a4a4a4a4a7272");

/** dtmf_2833_5.pcap: key "5", PT 101, event start M=1, durations +320 per packet, E=1 sent three times. */
export const DTMF_5 = [
  "80e51fdb0000a8c00e05384e050a0000",
  "80651fdc0000a8c00e05384e050a0140",
  "80651fdd0000a8c00e05384e050a0280",
  "80651fde0000a8c00e05384e050a03c0",
  "80651fdf0000a8c00e05384e050a0500",
  "80651fe00000a8c00e05384e050a0640",
  "80651fe10000a8c00e05384e050a0780",
  "80651fe20000a8c00e05384e058a08c0",
  "80651fe20000a8c00e05384e058a08c0",
  "80651fe20000a8c00e05384e058a08c0",
].map(hex);

/** dtmf_2833_pound.pcap: key "#", same stream (SSRC 0x0E05384E), timestamp 0x169E0. */
export const DTMF_POUND = [
  "80e520f4000169e00e05384e0b0a0000",
  "806520f5000169e00e05384e0b0a0140",
  "806520f6000169e00e05384e0b0a0280",
  "806520f7000169e00e05384e0b0a03c0",
  "806520f8000169e00e05384e0b0a0500",
  "806520f9000169e00e05384e0b0a0640",
  "806520fa000169e00e05384e0b0a0780",
  "806520fb000169e00e05384e0b8a08c0",
  "806520fb000169e00e05384e0b8a08c0",
  "806520fb000169e00e05384e0b8a08c0",
].map(hex);

/** pion/rtp packet_test.go TestBasic: X=1 (profile 1, one word FFFFFFFF), M=1, PT 96, 5-byte payload. */
export const PION_BASIC = hex("90e0698f d9c293da 1c642782 00010001 ffffffff 9836be889e");
