/**
 * Server-Sent Events, the reading side (https://html.spec.whatwg.org/multipage/server-sent-events.html
 * §9.2.6 "Interpreting an event stream"): a byte stream in, the `data` of each event out.
 *
 * Lines end with CRLF, LF or CR ("end-of-line = ( cr lf / cr / lf )"); a line starting with "data:"
 * appends its value (one leading space removed) to the data buffer, followed by a LF; a blank line
 * dispatches the event ("If the data buffer's last character is a U+000A LINE FEED (LF) character, then
 * remove the last character"), and an event whose data buffer is empty is not dispatched. Comment lines
 * (":…") and the other fields (event, id, retry) are ignored: the streaming LLM APIs we read put
 * everything in `data`. An event cut off by the end of the stream is dropped, as the spec says ("If the
 * file ends in the middle of an event, before the final empty line, the incomplete event is not
 * dispatched").
 */

/**
 * Yields the data of each event of `body`, as soon as its blank line has arrived. Throws what reading
 * the body throws (a reset connection, an abort).
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const ev = new EventBuffer();
  let buf = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let start = 0;
      for (;;) {
        const cr = buf.indexOf("\r", start);
        const lf = buf.indexOf("\n", start);
        const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
        if (end < 0) break;
        // A CR as the last character may be the first half of a CRLF still on its way.
        if (end === cr && end === buf.length - 1 && !done) break;
        const data = ev.line(buf.slice(start, end));
        start = end + (end === cr && buf[end + 1] === "\n" ? 2 : 1);
        if (data !== null) yield data;
      }
      buf = buf.slice(start);
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/** The data buffer of the event being read. */
class EventBuffer {
  private data = "";
  private hasData = false;

  /** Takes one line (without its end); returns the event's data when the line dispatches one. */
  line(line: string): string | null {
    if (line === "") {
      const d = this.hasData ? this.data : null;
      this.data = "";
      this.hasData = false;
      return d;
    }
    if (!line.startsWith("data")) return null; // a comment or another field
    const colon = line.indexOf(":");
    if (colon !== 4 && line.length !== 4) return null; // a field whose name only starts with "data"
    let v = colon < 0 ? "" : line.slice(colon + 1);
    if (v.startsWith(" ")) v = v.slice(1);
    this.data = this.hasData ? `${this.data}\n${v}` : v;
    this.hasData = true;
    return null;
  }
}
