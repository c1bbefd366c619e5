import { parse as parseDuration, type Duration } from "tinyduration";

const UNIT_MS = {
  weeks: 604_800_000,
  days: 86_400_000,
  hours: 3_600_000,
  minutes: 60_000,
  seconds: 1000,
};

// P, then weeks, days; T, then hours, minutes, seconds (only seconds may have a fraction, the
// smallest unit, as ISO 8601 allows); at least one of them, and at least one after a T.
const WHOLE_DURATION =
  /^P(?=\d|T\d)(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$/;

/**
 * Milliseconds in an ISO 8601 duration of weeks, days, hours, minutes and seconds (PT1H, P7D);
 * undefined for anything else.
 */
export function isoDurationMs(text: string): number | undefined {
  // The whole text must be the duration: tinyduration stops at the first unit it cannot read, so
  // P7Dfoo, P7D8 and PT2M30 would otherwise pass as P7D, P7D and PT2M.
  if (!WHOLE_DURATION.test(text)) return undefined;
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

/** An ISO 8601 duration for a number of milliseconds, in its largest whole unit: P1D, PT6H, PT90S. */
export function isoDuration(ms: number): string {
  if (ms % UNIT_MS.days === 0) return `P${ms / UNIT_MS.days}D`;
  if (ms % UNIT_MS.hours === 0) return `PT${ms / UNIT_MS.hours}H`;
  return `PT${Math.ceil(ms / UNIT_MS.seconds)}S`;
}
