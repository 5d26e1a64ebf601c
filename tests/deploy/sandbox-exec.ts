/**
 * Runs a command under one restriction that systemd would apply, so tests can see its effect without a
 * systemd PID 1:
 *
 *   bun tests/deploy/sandbox-exec.ts --mdwe -- CMD ARGS…
 *       prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN) (Linux ≥ 6.3): no mapping may be both writable and
 *       executable, nor become executable after being writable — what MemoryDenyWriteExecute=yes enforces
 *       (systemd uses this prctl when available, a seccomp filter on older kernels). Inherited by children.
 *   bun tests/deploy/sandbox-exec.ts --deny-netlink -- CMD ARGS…
 *       a seccomp filter making socket(AF_NETLINK, …) fail with EAFNOSUPPORT, the way
 *       RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX does (systemd.exec(5)). Inherited by children.
 *
 * The restriction is set on this process, then CMD is spawned as a child (it inherits it) with stdio
 * passed through; the exit code is CMD's. Exit 90 when the restriction cannot be set (errno printed).
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";

const PR_SET_NO_NEW_PRIVS = 38;
const PR_SET_SECCOMP = 22;
const SECCOMP_MODE_FILTER = 2;
const PR_SET_MDWE = 65;
const PR_MDWE_REFUSE_EXEC_GAIN = 1;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const NR_SOCKET = 41; // x86_64
const AF_NETLINK = 16;
const EAFNOSUPPORT = 97;

const libc = dlopen("libc.so.6", {
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
});

function fail(what: string): never {
  const errno = read.i32(libc.symbols.__errno_location()!, 0);
  console.error(`sandbox-exec: ${what} failed, errno ${errno}`);
  process.exit(90);
}

/** One classic-BPF instruction (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k). */
function insn(code: number, k: number, jt = 0, jf = 0): number[] {
  const b = new DataView(new ArrayBuffer(8));
  b.setUint16(0, code, true);
  b.setUint8(2, jt);
  b.setUint8(3, jf);
  b.setUint32(4, k >>> 0, true);
  return [...new Uint8Array(b.buffer)];
}
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const RET_K = 0x06;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;

function denyNetlink(): void {
  // struct seccomp_data: nr @0, arch @4, instruction_pointer @8, args[0] @16 (low 32 bits on LE).
  const prog = new Uint8Array([
    ...insn(LD_W_ABS, 4),
    ...insn(JEQ_K, AUDIT_ARCH_X86_64, 0, 4), // other arch: allow
    ...insn(LD_W_ABS, 0),
    ...insn(JEQ_K, NR_SOCKET, 0, 2), // not socket(): allow
    ...insn(LD_W_ABS, 16),
    ...insn(JEQ_K, AF_NETLINK, 1, 0),
    ...insn(RET_K, SECCOMP_RET_ALLOW),
    ...insn(RET_K, SECCOMP_RET_ERRNO | EAFNOSUPPORT),
  ]);
  const fprog = new DataView(new ArrayBuffer(16)); // struct sock_fprog { u16 len; pad; sock_filter *filter }
  fprog.setUint16(0, prog.length / 8, true);
  fprog.setBigUint64(8, BigInt(ptr(prog)), true);
  if (libc.symbols.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) !== 0) fail("PR_SET_NO_NEW_PRIVS");
  if (libc.symbols.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, BigInt(ptr(fprog)), 0, 0) !== 0) fail("PR_SET_SECCOMP");
}

const sep = process.argv.indexOf("--");
const flags = process.argv.slice(2, sep);
const cmd = process.argv.slice(sep + 1);
if (sep < 0 || cmd.length === 0) {
  console.error("usage: sandbox-exec.ts --mdwe|--deny-netlink -- CMD ARGS…");
  process.exit(2);
}
if (flags.includes("--mdwe") && libc.symbols.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) !== 0) fail("PR_SET_MDWE");
if (flags.includes("--deny-netlink")) denyNetlink();
const r = Bun.spawnSync({ cmd, stdio: ["inherit", "inherit", "inherit"] });
process.exit(r.exitCode ?? 1);
