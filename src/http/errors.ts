/** An error that becomes `{ error: code, message }` with `status` at the HTTP edge (src/http/app.ts). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
