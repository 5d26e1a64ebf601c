declare module "*.md" {
  const path: string;
  export default path;
}
