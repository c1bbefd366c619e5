import type { IngestionWindow } from "../model";

/**
 * Which of a detection's two passes a query belongs to. The routine pass runs on every schedule
 * tick over what was ingested since its watermark, reading only the days late arrivals usually
 * come from; the catch-up pass runs less often, over what was ingested since its own watermark,
 * reading the whole lookback, so an event ingested days after it happened is still found.
 */
export type QueryPass = "routine" | "catchup";

/** What one pass queries: the ingestion window, and the TimeGenerated span the API filters on. */
export interface QueryPlan {
  pass: QueryPass;
  window: IngestionWindow;
  /**
   * Passed as the API's timespan, which decides what Log Analytics reads (and bills): an event
   * whose TimeGenerated falls outside it is invisible to the query whatever its ingestion time.
   */
  timespan: { startTime: Date; endTime: Date };
  /** The stored watermark was older than the lookback: events generated before it are missed. */
  coverageGap: boolean;
}

export interface PlanInput {
  /** Default "routine". */
  pass?: QueryPass;
  /** End of the pass's last completed window; undefined on its first run. */
  watermark: Date | undefined;
  now: Date;
  lookbackMs: number;
  settleMs: number;
  /**
   * How long after it happened an event may still arrive for the routine pass to find it
   * (MAX_INGESTION_DELAY); undefined: the whole lookback, as the catch-up pass reads.
   */
  maxIngestionDelayMs?: number;
  /** The catch-up pass is due once its window spans this long (CATCHUP_SCHEDULE). */
  catchUpIntervalMs?: number;
  /**
   * For the catch-up pass: the routine pass's watermark and what its windows read, so the
   * catch-up leaves out what the routine pass provably covered (routineCoveredFrom).
   */
  routine?: { value: Date | undefined; coverage?: RoutineCoverage };
}

/**
 * What the routine pass read since `from`, window after window (contiguous, in order): where
 * each window ended, and the TimeGenerated its timespan started at. The timespan start is
 * recorded as it was, not recomputed from MAX_INGESTION_DELAY, so a setting changed between
 * runs changes nothing about what earlier windows are known to have read.
 */
export interface RoutineCoverage {
  from: Date;
  windows: { end: Date; timespanStart: Date }[];
}

/** Windows a coverage keeps; older ones are merged, which only makes the catch-up read more. */
export const MAX_COVERAGE_WINDOWS = 100;

/**
 * The routine pass's coverage after it completed `window` reading from `timespanStart` on. A
 * window that does not start where the coverage ends (no coverage yet, or a watermark moved by
 * other means) starts a new one: only what was recorded is known.
 */
export function extendCoverage(
  previous: RoutineCoverage | undefined,
  window: IngestionWindow,
  timespanStart: Date,
): RoutineCoverage {
  const reached = previous ? (previous.windows.at(-1)?.end ?? previous.from) : undefined;
  const base =
    previous && reached?.getTime() === window.start.getTime()
      ? previous
      : { from: window.start, windows: [] };
  const windows = [...base.windows, { end: window.end, timespanStart }];
  while (windows.length > MAX_COVERAGE_WINDOWS) {
    // The merged window ends where the later one did and counts the later of the two starts.
    const [a, b, ...rest] = windows;
    const later = Math.max(a.timespanStart.getTime(), b.timespanStart.getTime());
    windows.splice(0, windows.length, { end: b.end, timespanStart: new Date(later) }, ...rest);
  }
  return { from: base.from, windows };
}

/**
 * A TimeGenerated from which on the routine pass read every event ingested in `window`, or
 * undefined when that is not known. An event ingested in a routine window was read unless it
 * was generated before that window's timespan start (MAX_INGESTION_DELAY before the window, as
 * set at the time): so every event generated at or after the latest timespan start among the
 * routine windows overlapping `window` was read, whatever the setting was in each. Known only
 * when the routine pass has read all of `window` and its coverage reaches back to the start.
 */
export function routineCoveredFrom(
  routine: { value: Date | undefined; coverage?: RoutineCoverage } | undefined,
  window: IngestionWindow,
): Date | undefined {
  const coverage = routine?.coverage;
  if (!coverage || routine?.value === undefined) return undefined;
  const reached = coverage.windows.at(-1)?.end;
  if (coverage.from.getTime() > window.start.getTime()) return undefined;
  if (!reached || reached.getTime() < window.end.getTime()) return undefined;
  if (routine.value.getTime() < window.end.getTime()) return undefined;
  let latest: number | undefined;
  let start = coverage.from.getTime();
  for (const w of coverage.windows) {
    const overlaps = w.end.getTime() > window.start.getTime() && start < window.end.getTime();
    if (overlaps) latest = Math.max(latest ?? -Infinity, w.timespanStart.getTime());
    start = w.end.getTime();
  }
  return latest === undefined ? undefined : new Date(latest);
}

/**
 * The first part of the catch-up's `window` over which the routine windows' timespan starts stay
 * within `toleranceMs` of each other, and the latest of those starts (routineCoveredFrom over
 * that part); undefined when what the routine pass read is not known. After a backlog, or a
 * changed MAX_INGESTION_DELAY, the starts differ by days: one bound for the whole window would
 * read again much of what the earlier windows read, so the catch-up takes a part at a time.
 */
export function catchUpSegment(
  routine: { value: Date | undefined; coverage?: RoutineCoverage } | undefined,
  window: IngestionWindow,
  toleranceMs: number,
): { window: IngestionWindow; coveredFrom: Date } | undefined {
  const coverage = routine?.coverage;
  if (!coverage || routineCoveredFrom(routine, window) === undefined) return undefined;
  let lowest: number | undefined;
  let latest: number | undefined;
  let start = coverage.from.getTime();
  for (const w of coverage.windows) {
    const overlaps = w.end.getTime() > window.start.getTime() && start < window.end.getTime();
    if (overlaps) {
      const at = w.timespanStart.getTime();
      const low = Math.min(lowest ?? at, at);
      const high = Math.max(latest ?? at, at);
      if (latest !== undefined && high - low > toleranceMs && start > window.start.getTime()) {
        // The part so far ends where this window starts; the next run's catch-up goes on.
        return {
          window: { start: window.start, end: new Date(start) },
          coveredFrom: new Date(latest),
        };
      }
      lowest = low;
      latest = high;
    }
    start = w.end.getTime();
  }
  return latest === undefined ? undefined : { window, coveredFrom: new Date(latest) };
}

// The catch-up's timespan reaches this far past the routine pass's timespan start: whether the
// API's bounds are inclusive or not, the instant itself is read by one pass or the other.
const COVERED_MARGIN_MS = 60_000;

// Device clocks run ahead of the service; the ingestion window, not the timespan's end, is what
// bounds a run, so the timespan reaches past now instead of dropping events stamped in the future.
const FUTURE_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

/**
 * Plans a pass's next window by ingestion time, or returns undefined when there is nothing new
 * yet (or, for the catch-up pass, when it is not due). The routine pass's timespan starts
 * MAX_INGESTION_DELAY before its window: an event generated earlier than that and ingested in the
 * window is left to the catch-up pass, whose timespan starts at the lookback and ends where the
 * routine pass's timespans provably covered the rest (routineCoveredFrom).
 */
export function planQuery({
  pass = "routine",
  watermark,
  now,
  lookbackMs,
  settleMs,
  maxIngestionDelayMs,
  catchUpIntervalMs = 0,
  routine,
}: PlanInput): QueryPlan | undefined {
  const lookbackStart = now.getTime() - lookbackMs;
  const end = new Date(now.getTime() - settleMs);
  const start = watermark ?? new Date(lookbackStart);
  if (start.getTime() >= end.getTime()) return undefined;
  if (pass === "catchup" && end.getTime() - start.getTime() < catchUpIntervalMs) return undefined;
  const narrowed =
    pass === "routine" && maxIngestionDelayMs !== undefined
      ? Math.max(lookbackStart, start.getTime() - maxIngestionDelayMs)
      : lookbackStart;
  let endTime = now.getTime() + FUTURE_CLOCK_SKEW_MS;
  let window: IngestionWindow = { start, end };
  // The catch-up pass reads only what the routine pass may have left: events generated before
  // its timespans started. What is generated later and ingested in this window, it read.
  const segment =
    pass === "catchup" ? catchUpSegment(routine, window, catchUpIntervalMs) : undefined;
  if (segment) {
    window = segment.window;
    const covered = segment.coveredFrom.getTime() + COVERED_MARGIN_MS;
    // At least a second is read: an empty timespan is no valid request.
    endTime = Math.max(narrowed + 1000, Math.min(endTime, covered));
  }
  return {
    pass,
    window,
    timespan: { startTime: new Date(narrowed), endTime: new Date(endTime) },
    coverageGap: watermark !== undefined && watermark.getTime() < lookbackStart,
  };
}

/** Splits a window in two at its midpoint (whole milliseconds), for results too large for one answer. */
export function splitWindow(window: IngestionWindow): [IngestionWindow, IngestionWindow] {
  const mid = new Date(Math.floor((window.start.getTime() + window.end.getTime()) / 2));
  return [
    { start: window.start, end: mid },
    { start: mid, end: window.end },
  ];
}
