// A failed run is reported as one line a person can read in a terminal or a log query; the stack
// trace is for developers and only printed on request (detect --verbose).

/** Longest error line: a server's whole response body does not belong in one log line. */
const MAX_ERROR_LINE = 1000;

/** The error as one line: its message with line breaks folded, capped in length. */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.replace(/\s*[\r\n]+\s*/g, " | ").trim() || "unknown error";
  return line.length > MAX_ERROR_LINE ? `${line.slice(0, MAX_ERROR_LINE - 1)}…` : line;
}
