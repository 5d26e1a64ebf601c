/**
 * The one base of the project's typed errors (STYLE habit 9): a literal `code`, whether a later attempt
 * may succeed (`retryable`), and the underlying `cause`. Layers subclass it with their own code unions;
 * mapping to a SIP or HTTP status happens only at the edges.
 */
export class AgentError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
  /** True when the same operation may succeed if tried again later (a 5xx, a dropped socket). */
  readonly retryable: boolean;
}
