import type { IngestionWindow } from "../model";

/** What one run queries: the ingestion window, and the TimeGenerated span the API filters on. */
export interface QueryPlan {
  window: IngestionWindow;
  /** Passed as the API's timespan; must cover the whole lookback or late events vanish. */
  timespan: { startTime: Date; endTime: Date };
  /** The stored watermark was older than the lookback: events generated before it are missed. */
  coverageGap: boolean;
}

export interface PlanInput {
  /** End of the last completed window; undefined on the first run. */
  watermark: Date | undefined;
  now: Date;
  lookbackMs: number;
  settleMs: number;
}

// Device clocks run ahead of the service; the ingestion window, not the timespan's end, is what
// bounds a run, so the timespan reaches past now instead of dropping events stamped in the future.
const FUTURE_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

/** Plans the next window by ingestion time, or returns undefined when there is nothing new yet. */
export function planQuery({
  watermark,
  now,
  lookbackMs,
  settleMs,
}: PlanInput): QueryPlan | undefined {
  const lookbackStart = new Date(now.getTime() - lookbackMs);
  const end = new Date(now.getTime() - settleMs);
  const start = watermark ?? lookbackStart;
  if (start.getTime() >= end.getTime()) return undefined;
  return {
    window: { start, end },
    timespan: { startTime: lookbackStart, endTime: new Date(now.getTime() + FUTURE_CLOCK_SKEW_MS) },
    coverageGap: watermark !== undefined && watermark.getTime() < lookbackStart.getTime(),
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
