// Reading a DetectionEvent column for triage. The column list itself (EVENT_COLUMNS) lives in
// model.ts beside the DetectionEvent interface it must equal.
import { EVENT_COLUMNS, type DetectionEvent, type EventColumn } from "../model";

/** The column's value as a string; a null or missing value (a sparse KQL column) reads as "". */
export function columnValue(event: DetectionEvent, column: EventColumn): string {
  const value: unknown = event[column];
  if (typeof value === "string") return value;
  return typeof value === "number" || typeof value === "boolean" ? String(value) : "";
}

/**
 * Any column of the rule's row by name: a common column, or one of the other columns its entity
 * mappings and custom details name (rows.ts keeps those); "" when the row has neither.
 */
export function rowValue(event: DetectionEvent, column: string): string {
  if (event.OtherColumns && column in event.OtherColumns) return event.OtherColumns[column];
  return (EVENT_COLUMNS as readonly string[]).includes(column)
    ? columnValue(event, column as EventColumn)
    : "";
}
