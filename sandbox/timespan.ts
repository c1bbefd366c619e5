import { isoDurationMs } from "../functions/config/duration";

// The query API's `timespan`: an ISO 8601 interval, as LogsQueryClient sends it:
// "<start>/<end>", "<start>/<duration>", "<duration>/<end>", or a bare "<duration>" ending now.

/** A half-open time range [start, end). */
export interface TimeRange {
  start: Date;
  end: Date;
}

/** The timespan is not an ISO 8601 interval the stand-in understands. */
export class InvalidTimespanError extends Error {
  constructor(readonly timespan: string) {
    super(`'${timespan}' is not a valid ISO 8601 timespan`);
    this.name = "InvalidTimespanError";
  }
}

function parseInstant(text: string): Date | undefined {
  // Only absolute, zoned instants: a local time would depend on the stand-in's time zone.
  if (!/^\d{4}-\d\d-\d\dT.*(Z|[+-]\d\d:\d\d)$/.test(text)) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Resolves a query API timespan to a time range; a bare duration ends at `now`. */
export function parseTimespan(timespan: string, now: Date): TimeRange {
  const parts = timespan.split("/");
  if (parts.length === 1) {
    const ms = isoDurationMs(parts[0]);
    if (ms === undefined) throw new InvalidTimespanError(timespan);
    return { start: new Date(now.getTime() - ms), end: now };
  }
  if (parts.length !== 2) throw new InvalidTimespanError(timespan);
  const [left, right] = parts;
  const start = parseInstant(left);
  const end = parseInstant(right);
  let range: TimeRange | undefined;
  if (start && end) range = { start, end };
  else if (start) {
    const ms = isoDurationMs(right);
    if (ms !== undefined) range = { start, end: new Date(start.getTime() + ms) };
  } else if (end) {
    const ms = isoDurationMs(left);
    if (ms !== undefined) range = { start: new Date(end.getTime() - ms), end };
  }
  if (!range || range.end.getTime() < range.start.getTime()) {
    throw new InvalidTimespanError(timespan);
  }
  return range;
}
