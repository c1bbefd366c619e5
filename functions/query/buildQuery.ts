import type { IngestionWindow } from "../model";

/** Names of the let-bound values the detection KQL refers to. */
export const WINDOW_START = "WindowStart";
export const WINDOW_END = "WindowEnd";
export const MAX_ROWS = "MaxRows";

/**
 * The most rows a query may return: the Log Analytics query API's own limit on a result
 * (500,000 records; learn.microsoft.com/azure/azure-monitor/service-limits#log-queries-and-language).
 */
export const SERVICE_MAX_ROWS = 500_000;

// Kusto datetime literals: the ISO form is unambiguous and never comes from event data.
function datetimeLiteral(value: Date): string {
  return `datetime(${value.toISOString()})`;
}

/**
 * Prepends the run's ingestion window, and the most rows it takes (the earliest ingested), to
 * the detection KQL as let statements.
 */
export function buildQuery(
  detectionKql: string,
  window: IngestionWindow,
  maxRows: number = SERVICE_MAX_ROWS,
): string {
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) {
    throw new RangeError(`maxRows must be a positive integer, not ${maxRows}`);
  }
  return [
    `let ${WINDOW_START} = ${datetimeLiteral(window.start)};`,
    `let ${WINDOW_END} = ${datetimeLiteral(window.end)};`,
    `let ${MAX_ROWS} = ${Math.min(maxRows, SERVICE_MAX_ROWS)};`,
    detectionKql,
  ].join("\n");
}
