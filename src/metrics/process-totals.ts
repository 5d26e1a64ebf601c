/**
 * Counters read at scrape time from process-wide totals that the RTP sessions, the SIP transport, the
 * process guard, the logger and the store write queue keep as they go (constant work on those paths,
 * no metrics call on the attack path). Each is reset and refilled from its totals object on `collect`.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { rtpDropTotals } from "../rtp/drop-counters.ts";
import { rtpReceiveDeferTotals } from "../rtp/receive-budget.ts";
import { sipRefusedTotals } from "../sip/transport/drop-report.ts";
import { sipUdpTotals } from "../sip/transport/udp.ts";
import { mediaWorkerTotals } from "../rtp/worker/plane.ts";
import { playoutHoldTotals } from "../media/playout-hold.ts";
import { playoutUnderrunTotals } from "../media/playout-underruns.ts";
import { missingMediaTotals } from "../rtp/missing-media.ts";
import { logTotals } from "../util/log-totals.ts";
import { processErrorTotals } from "../util/process-guard.ts";
import { storeTotals } from "../store/write-queue.ts";
import { vadBacklog, vadBatchSizes, vadTotals, VAD_BATCH_BOUNDS } from "../media/vad/batcher.ts";
import { CountedHistogram } from "./counted-histogram.ts";

/** The counters: name, help, the one label, and the process-wide totals object it reads. */
const PROCESS_TOTALS: readonly { name: string; help: string; label: string; totals: Readonly<Record<string, number>> }[] = [
  {
    name: "voice_agent_rtp_dropped_total",
    help: "RTP datagrams dropped unprocessed, by reason: oversize (> 1500 bytes), malformed, payload_type (not negotiated), source (refused by the latch), rate (the accepted source above 150 packets/s after a burst of 250), backlog (MEDIA_WORKER=on: the call thread so late that the worker's 1 MiB backlog was full). Process totals.",
    label: "reason",
    totals: rtpDropTotals,
  },
  {
    name: "voice_agent_rtp_receive_deferred_total",
    help: "RTP datagrams received past the event-loop turn's receive budget (RTP_RX_BUDGET_MS) and handled in a later slice, by outcome: queued, dropped (the oldest, unhandled, while 4096 waited). Process totals.",
    label: "outcome",
    totals: rtpReceiveDeferTotals,
  },
  {
    name: "voice_agent_sip_refused_total",
    help: "SIP messages and TCP/TLS connections refused before any transaction, by reason: rate_limited, untrusted_rejected (403), untrusted_dropped, malformed_rejected (400), malformed_dropped, oversize_rejected (513), oversize_dropped, tcp_connection_limit, tcp_untrusted, tcp_message_timeout, tcp_backlog (a connection whose unhandled bytes exceeded 1 MB, or whose source's exceeded 4 MB or the process's 32 MB, closed; reading pauses at 256 KB per connection, 1 MB per source, 8 MB in all, so only bytes that still arrive while paused get there), dialog_stranger (an in-dialog request from an address other than the dialog's peer: one stateless 403, SIP_DIALOG_PEER_ONLY), auth_failed (an inbound INVITE with wrong digest credentials: 401), auth_locked_out (an inbound INVITE from a source locked out after repeated digest failures: one stateless 403, SIP_INBOUND_MAX_FAILURES). Process totals.",
    label: "reason",
    totals: sipRefusedTotals,
  },
  {
    name: "voice_agent_sip_udp_datagrams_total",
    help: "SIP datagrams the agent sent over UDP, by outcome: sent (taken by the kernel), not_sent (the socket would block, send buffer full: dropped unsent), error (the send failed). Process totals.",
    label: "outcome",
    totals: sipUdpTotals,
  },
  {
    name: "voice_agent_media_worker_frames_total",
    help: "Frames the media worker (MEDIA_WORKER=on) sent from the calls' playouts, by kind: audio, late_silence (a silence frame sent while the call's playout already held audio not yet written ahead: the call thread was late by more than the write-ahead), held (a tick found the ring empty inside a reply still arriving and waited up to 40 ms for its frame instead of sending silence, src/media/playout-hold.ts), held_silence (held, and nothing came: silence). Process totals; 0 with the worker off.",
    label: "kind",
    totals: mediaWorkerTotals,
  },
  {
    name: "voice_agent_playout_held_total",
    help: "Ticks a call's playout (MEDIA_WORKER=off) held inside a reply still arriving from TTS instead of sending a silence frame (the frame went out late, when it came, up to 40 ms; src/media/playout-hold.ts), by kind: held, held_silence (nothing came within the hold: silence after all). Process totals; 0 with the worker on (see voice_agent_media_worker_frames_total).",
    label: "kind",
    totals: playoutHoldTotals,
  },
  {
    name: "voice_agent_playout_underruns_total",
    help: "Silence frames a call's playout sent inside a reply (its first frame out, not yet finished), by cause: tts_late (nothing queued while the reply was still arriving from TTS, past the hold), paused (a barge-in not yet confirmed paused the reply). Process totals (src/media/playout-underruns.ts).",
    label: "cause",
    totals: playoutUnderrunTotals,
  },
  {
    name: "voice_agent_missing_media_frames_total",
    help: "Silence frames handed to a call's conversation in place of caller RTP that did not come for 60 ms (silence suppression, a stalled stream; src/rtp/missing-media.ts), by kind: filled, withdrawn (decided on a pacer tick, but the caller's frames were only waiting in the socket for a busy thread: not filled). Process totals.",
    label: "kind",
    totals: missingMediaTotals,
  },
  {
    name: "voice_agent_process_errors_total",
    help: "Errors no call boundary caught, handled by the process-level guard (the process kept running), by kind: unhandled_rejection, uncaught_exception. Process totals.",
    label: "kind",
    totals: processErrorTotals,
  },
  {
    name: "voice_agent_log_lines_lost_total",
    help: "Log lines not written, by outcome: suppressed (over the per-message rate limit, summarised), dropped (stdout not read, buffer full). Process totals.",
    label: "outcome",
    totals: logTotals,
  },
  {
    name: "voice_agent_store_writes_total",
    help: "Call store (calls.db) writes by outcome: written, queued (the database was locked, full or failing; retried), overflow (queue full: lost), failed (lost for good). Process totals.",
    label: "outcome",
    totals: storeTotals,
  },
  {
    name: "voice_agent_vad_total",
    help: "Silero VAD work, by what: windows (32 ms windows scored), runs (model runs; windows/runs = mean batch size, the larger the cheaper per window), skipped (windows left unscored because their call's VAD was more than VAD_MAX_LAG_MS behind its audio: overload shedding), quiet (windows left unscored under VAD_SILENCE_FLOOR_DBFS after 256 ms under it: probability 0, the call's VAD state reset). Process totals.",
    label: "what",
    totals: vadTotals,
  },
];

/**
 * Registers voice_agent_{rtp_dropped,sip_refused,sip_udp_datagrams,media_worker_frames,playout_held,playout_underruns,missing_media_frames,process_errors,log_lines_lost,store_writes,vad}_total,
 * the VAD backlog gauges voice_agent_vad_backlog_windows and voice_agent_vad_lag_max_ms, and the model runs'
 * batch sizes, voice_agent_vad_batch_windows.
 */
export function processTotalCounters(registers: Registry[]): void {
  new CountedHistogram({
    name: "voice_agent_vad_batch_windows",
    help: "Silero model runs by batch size, windows per run (all calls' windows scored together: the larger the run, the less CPU per window up to ~16, scripts/bench-vad-batch.ts). Process totals.",
    buckets: VAD_BATCH_BOUNDS,
    source: vadBatchSizes,
    registers,
  });
  new Gauge({
    name: "voice_agent_vad_backlog_windows",
    help: "Silero windows (32 ms of a caller's audio each) waiting to be scored, all calls together, at the scrape. Near the number of VAD streams or below when the model keeps up.",
    registers,
    collect() {
      this.set(vadBacklog.waiting);
    },
  });
  new Gauge({
    name: "voice_agent_vad_lag_max_ms",
    help: "The most audio any call's VAD had queued behind a window when that window was scored, since the previous scrape, ms: how far speech decisions lagged the caller's audio. At most VAD_MAX_LAG_MS: windows further behind are skipped (voice_agent_vad_total{what=\"skipped\"}).",
    registers,
    collect() {
      this.set(vadBacklog.takeMaxBehindMs());
    },
  });
  for (const { name, help, label, totals } of PROCESS_TOTALS) {
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        for (const [value, n] of Object.entries(totals)) this.inc({ [label]: value }, n);
      },
    });
  }
}
