/**
 * Backchannels: short acknowledgements ("uh-huh", "okay") that invite the speaker to go on. The common
 * ones (uh-huh, mm-hmm, yeah, yes, right, okay, sure, I see, got it) in the spellings a recogniser writes
 * them (Deepgram: "Uh-huh.", "Mhmm.", "Mm-hmm.", "Yep.", "Yup."), and a few more ("alright", "go on").
 */

const BACKCHANNELS = new Set([
  "uh huh", "uh-huh", "uhhuh", "mhm", "mhmm", "mmhmm", "mm hmm", "mm-hmm", "mm hm", "mm-hm", "mm", "hmm",
  "yeah", "yes", "yep", "yup", "ok", "okay", "oh", "ah", "aha",
  "right", "sure", "i see", "got it", "alright", "all right", "go on", "go ahead",
]);

/** True when `text` is only an acknowledgement that invites the speaker to go on. */
export function isBackchannel(text: string): boolean {
  const t = text.toLowerCase().replace(/[^a-z' -]/g, " ").replace(/\s+/g, " ").trim();
  if (!t) return false;
  if (BACKCHANNELS.has(t)) return true;
  const words = t.split(" ");
  return words.length <= 3 && words.every((w) => BACKCHANNELS.has(w));
}
