// Column helpers for triage conditions. The column list itself lives in model.ts beside the
// DetectionEvent interface it must equal; the condition schema's column enum is derived from it.
import { EVENT_COLUMNS, type DetectionEvent, type EventColumn } from "../model";

export { EVENT_COLUMNS };

/** Whether a string names a DetectionEvent column. */
export function isEventColumn(name: string): name is EventColumn {
  return (EVENT_COLUMNS as readonly string[]).includes(name);
}

/** The column's value as a string; a null or missing value (a sparse KQL column) reads as "". */
export function columnValue(event: DetectionEvent, column: EventColumn): string {
  const value: unknown = event[column];
  if (typeof value === "string") return value;
  return typeof value === "number" || typeof value === "boolean" ? String(value) : "";
}
