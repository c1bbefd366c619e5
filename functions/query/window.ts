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
}

// Device clocks run ahead of the service; the ingestion window, not the timespan's end, is what
// bounds a run, so the timespan reaches past now instead of dropping events stamped in the future.
const FUTURE_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

/**
 * Plans a pass's next window by ingestion time, or returns undefined when there is nothing new
 * yet (or, for the catch-up pass, when it is not due). The routine pass's timespan starts
 * MAX_INGESTION_DELAY before its window: an event generated earlier than that and ingested in the
 * window is left to the catch-up pass, whose timespan is the whole lookback.
 */
export function planQuery({
  pass = "routine",
  watermark,
  now,
  lookbackMs,
  settleMs,
  maxIngestionDelayMs,
  catchUpIntervalMs = 0,
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
  return {
    pass,
    window: { start, end },
    timespan: {
      startTime: new Date(narrowed),
      endTime: new Date(now.getTime() + FUTURE_CLOCK_SKEW_MS),
    },
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
