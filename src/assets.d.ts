declare module "*.md" {
  const path: string;
  export default path;
}

/** The call page's script, imported as text (src/http/call-page.ts). */
declare module "*/ui/app.js" {
  const text: string;
  export default text;
}
