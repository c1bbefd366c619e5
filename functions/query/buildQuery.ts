import type { IngestionWindow } from "../model";

/** Names of the let-bound window bounds the detection KQL refers to. */
export const WINDOW_START = "WindowStart";
export const WINDOW_END = "WindowEnd";

// Kusto datetime literals: the ISO form is unambiguous and never comes from event data.
function datetimeLiteral(value: Date): string {
  return `datetime(${value.toISOString()})`;
}

/** Prepends the run's ingestion window to the detection KQL as let statements. */
export function buildQuery(detectionKql: string, window: IngestionWindow): string {
  return [
    `let ${WINDOW_START} = ${datetimeLiteral(window.start)};`,
    `let ${WINDOW_END} = ${datetimeLiteral(window.end)};`,
    detectionKql,
  ].join("\n");
}
