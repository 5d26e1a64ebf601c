/**
 * Turns Elysia's schema validation error (TypeBox underneath) into `{ field, message }` with the
 * message starting with the field name, e.g. `phone_number: expected E.164 …`.
 */

interface ValueErrorLike {
  path?: string;
  message?: string;
  summary?: string;
  /** The offending value; undefined for a missing property. */
  value?: unknown;
}

/** `/metadata/x` → `metadata.x`; "" for the body itself. */
export function fieldOfPath(path: string | undefined): string {
  return (path ?? "").replace(/^\//, "").replace(/\//g, ".");
}

/** Field and message of the first validation problem; `err` is Elysia's ValidationError. */
export function describeValidation(err: unknown): { field?: string; message: string } {
  const e = err as { all?: ValueErrorLike[]; valueError?: ValueErrorLike; customError?: unknown; message?: string };
  let first: ValueErrorLike | undefined;
  try {
    first = e.all?.[0] ?? e.valueError;
  } catch {
    first = e.valueError;
  }
  const custom = typeof e.customError === "string" ? e.customError : undefined;
  // A query/param value is validated alone (path ""): the custom message names its field.
  const field = fieldOfPath(first?.path) || (custom ? /^([A-Za-z_][\w.]*):/.exec(custom)?.[1] : undefined);
  const detail = first?.summary || first?.message || "invalid value";
  // TypeBox says "Expected property 'x' to be string but found: undefined" for a missing field; a field
  // with its own message (phone_number's "expected E.164 …") is then missing, not malformed.
  const missing = /to be \w+ but found: undefined$/.test(detail) || (!!first?.path && first !== undefined && "value" in first && first.value === undefined);
  if (field && missing) return { field, message: `${field}: required` };
  if (custom && (!field || custom.startsWith(`${field}:`))) return { field, message: custom };
  if (!field) return { message: `request body: ${detail}` };
  return { field, message: `${field}: ${missing ? "required" : detail.replace(/^Expected/, "expected")}` };
}
