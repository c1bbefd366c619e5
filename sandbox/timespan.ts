import { parse as parseDuration, type Duration } from "tinyduration";

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

const UNIT_MS = {
  weeks: 604_800_000,
  days: 86_400_000,
  hours: 3_600_000,
  minutes: 60_000,
  seconds: 1000,
};

/** Milliseconds in an ISO 8601 duration of weeks, days, hours, minutes and seconds (PT1H, P7D). */
export function parseIsoDuration(text: string): number | undefined {
  let d: Duration;
  try {
    d = parseDuration(text);
  } catch {
    return undefined;
  }
  // Years and months have no fixed length, so durations with them are refused, not guessed.
  if (d.negative || d.years || d.months) return undefined;
  return (
    (d.weeks ?? 0) * UNIT_MS.weeks +
    (d.days ?? 0) * UNIT_MS.days +
    (d.hours ?? 0) * UNIT_MS.hours +
    (d.minutes ?? 0) * UNIT_MS.minutes +
    (d.seconds ?? 0) * UNIT_MS.seconds
  );
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
    const ms = parseIsoDuration(parts[0]);
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
    const ms = parseIsoDuration(right);
    if (ms !== undefined) range = { start, end: new Date(start.getTime() + ms) };
  } else if (end) {
    const ms = parseIsoDuration(left);
    if (ms !== undefined) range = { start: new Date(end.getTime() - ms), end };
  }
  if (!range || range.end.getTime() < range.start.getTime()) {
    throw new InvalidTimespanError(timespan);
  }
  return range;
}
