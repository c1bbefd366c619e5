// Reading a DetectionEvent column for triage. The column list itself (EVENT_COLUMNS) lives in
// model.ts beside the DetectionEvent interface it must equal.
import type { DetectionEvent, EventColumn } from "../model";

/** The column's value as a string; a null or missing value (a sparse KQL column) reads as "". */
export function columnValue(event: DetectionEvent, column: EventColumn): string {
  const value: unknown = event[column];
  if (typeof value === "string") return value;
  return typeof value === "number" || typeof value === "boolean" ? String(value) : "";
}
