/**
 * Sentences for the offline STT measurements. EVAL: phone-agent answers plus general sentences (WER).
 * CALIBRATION: Harvard sentences (IEEE 1969), disjoint from EVAL, used only to compute PHONE_CMNINIT.
 */
export const EVAL = [
  "my name is john smith",
  "i am calling about my appointment next week",
  "yes that is right",
  "no that is wrong",
  "i have a question about my bill",
  "it's mary johnson",
  "i would like to speak to someone about an invoice",
  "can you tell me your opening hours",
  "the weather is nice today",
  "please call me back tomorrow morning",
  "i need to cancel my reservation",
  "thank you very much goodbye",
  "hello i would like to book a table for two",
  "what time do you close on friday",
  "my phone number is five five five one two three four",
  "i am not sure about that",
  "could you repeat that please",
  "i want to pay my invoice",
  "my account number is wrong on the bill",
  "sorry i did not hear you",
];

export const CALIBRATION = [
  "the birch canoe slid on the smooth planks",
  "glue the sheet to the dark blue background",
  "it is easy to tell the depth of a well",
  "these days a chicken leg is a rare dish",
  "rice is often served in round bowls",
  "the juice of lemons makes fine punch",
  "the box was thrown beside the parked truck",
  "four hours of steady work faced us",
  "a large size in stockings is hard to sell",
  "the boy was there when the sun rose",
];

/** Voices: Debian flite (kal16, slt, rms, awb) and espeak-ng (en-us). */
export const VOICES = ["kal16", "slt", "rms", "awb", "espeak"] as const;
export type Voice = (typeof VOICES)[number];
