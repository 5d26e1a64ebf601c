/**
 * Types for assets the VAD embeds with `import x from "…" with { type: "file" }`: Bun resolves them to
 * a path string (a real path under `bun run`, a `/$bunfs/…` path inside a compiled binary).
 */
declare module "*/silero_vad.onnx" {
  const path: string;
  export default path;
}
declare module "*/libonnxruntime.so.1" {
  const path: string;
  export default path;
}
