import type { LogsTable } from "@azure/monitor-query-logs";
import {
  EVENT_COLUMNS,
  SOURCE_TABLES,
  type DetectionEvent,
  type EventColumn,
  type SourceTable,
} from "../model";

const DATETIME_COLUMNS = new Set<EventColumn>(["TimeGenerated", "Timestamp", "IngestionTime"]);

/** The query's answer did not have the shape the detection KQL promises. */
export class ResultShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResultShapeError";
  }
}

function cellText(column: EventColumn, value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString();
  const text =
    typeof value === "string" || typeof value === "number" || typeof value === "boolean"
      ? String(value)
      : JSON.stringify(value);
  if (!DATETIME_COLUMNS.has(column)) return text;
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) {
    throw new ResultShapeError(`${column} '${text}' is not a datetime`);
  }
  return time.toISOString();
}

function isSourceTable(value: string): value is SourceTable {
  return (SOURCE_TABLES as readonly string[]).includes(value);
}

/** Turns the query's result table into events, normalising datetimes to ISO and nulls to "". */
export function eventsFromTable(table: LogsTable): DetectionEvent[] {
  const index = new Map(table.columnDescriptors.map((c, i) => [c.name ?? "", i]));
  const missing = EVENT_COLUMNS.filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw new ResultShapeError(`query result lacks column(s) ${missing.join(", ")}`);
  }
  return table.rows.map((row) => {
    const event = Object.fromEntries(
      EVENT_COLUMNS.map((c) => [c, cellText(c, row[index.get(c) as number])]),
    ) as unknown as DetectionEvent;
    const table: string = event.SourceTable;
    if (!isSourceTable(table)) throw new ResultShapeError(`unexpected SourceTable '${table}'`);
    return event;
  });
}
