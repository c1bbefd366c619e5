// The one runtime list of DetectionEvent column names. The condition schema's column enum is
// derived from it, and the compile-time checks below keep it equal to the interface in model.ts,
// so a column added to the query and the model cannot be forgotten here (or vice versa).
import type { DetectionEvent, EventColumn } from "../model";

/** Every column of a DetectionEvent, in the order the KQL projects them. */
export const EVENT_COLUMNS = [
  "SourceTable",
  "TimeGenerated",
  "Timestamp",
  "IngestionTime",
  "DeviceId",
  "DeviceName",
  "ReportId",
  "ActionType",
  "FolderPath",
  "FileName",
  "SHA1",
  "SHA256",
  "ProcessCommandLine",
  "InitiatingProcessAccountDomain",
  "InitiatingProcessAccountName",
  "InitiatingProcessFileName",
  "InitiatingProcessCommandLine",
  "InitiatingProcessParentFileName",
] as const satisfies readonly EventColumn[];

// Fails to compile when DetectionEvent gains a column that the list above lacks.
type MissingColumn = Exclude<EventColumn, (typeof EVENT_COLUMNS)[number]>;
const listIsComplete: [MissingColumn] extends [never] ? true : MissingColumn = true;
void listIsComplete;

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
