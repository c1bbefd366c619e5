// Turning the query's result table into DetectionEvents. A row the detection cannot process (a
// table it does not read, a time that is not a datetime, an identifier too long to store, no file
// name and no hash) is quarantined with its reason instead of failing the run: one bad row must
// never hold back the good hits of its window.
import type { LogsTable } from "@azure/monitor-query-logs";
import { EVENT_COLUMNS, SOURCE_TABLES, type DetectionEvent, type EventColumn } from "../model";

/**
 * What one rule's rows must hold: the tables it reads, the common columns its query produces
 * (each required in the result), the other columns its entity mappings and custom details name,
 * and whether a hit needs a file name or a hash (nbtscan's, whose hits are files).
 */
export interface RowSpec {
  tables: readonly string[];
  required: readonly EventColumn[];
  other: readonly string[];
  fileOrHash: boolean;
}

/** nbtscan's rows: every common column, its two tables, a file name or a hash. */
export const NBTSCAN_ROWS: RowSpec = {
  tables: SOURCE_TABLES,
  required: EVENT_COLUMNS,
  other: [],
  fileOrHash: true,
};

const DATETIME_COLUMNS = new Set<EventColumn>(["TimeGenerated", "Timestamp", "IngestionTime"]);

/**
 * Columns that identify an event, kept whole in what is stored and sent (never truncated), so
 * their length is bounded here. Device names are DNS names (at most 253 characters); hashes and
 * ids are far shorter.
 */
const IDENTIFIER_COLUMNS: readonly EventColumn[] = [
  "SourceTable",
  "DeviceId",
  "DeviceName",
  "ReportId",
  "ActionType",
  "SHA1",
  "SHA256",
];
export const MAX_IDENTIFIER_CHARS = 256;

/** A cell as the query client hands it over, kept as the quarantine's evidence. */
export type RawCell = string | number | boolean | null;

/** A row the detection cannot process: why, and what it held. */
export interface QuarantinedRow {
  reason: string;
  row: Record<string, RawCell>;
}

/** The events of a result, and the rows set aside. */
export interface RowsRead {
  events: DetectionEvent[];
  quarantined: QuarantinedRow[];
}

/** The query's answer did not have the shape the detection KQL promises. */
export class ResultShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResultShapeError";
  }
}

/** A row problem: the row is quarantined with this reason. */
class RowProblem extends Error {}

// Kusto datetimes run from year 1 to 9999; anything else is not a time the service can hold.
const ISO_IN_RANGE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// The query client turns datetime cells into Dates; one it could not read has no text left.
const UNREADABLE_DATETIME = "<unreadable datetime>";

function rawCell(value: unknown): RawCell {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? UNREADABLE_DATETIME : value.toISOString();
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  return JSON.stringify(value) ?? null;
}

function datetimeText(column: EventColumn, value: RawCell): string {
  if (value === null || value === "") throw new RowProblem(`${column} is empty`);
  if (value === UNREADABLE_DATETIME) {
    throw new RowProblem(`${column} holds a value that is not a datetime`);
  }
  const time = new Date(typeof value === "string" ? value : Number.NaN);
  const iso = Number.isNaN(time.getTime()) ? "" : time.toISOString();
  if (!ISO_IN_RANGE.test(iso)) {
    throw new RowProblem(`${column} '${String(value).slice(0, 40)}' is not a datetime`);
  }
  return iso;
}

function cellText(column: EventColumn, value: RawCell | undefined): string {
  if (DATETIME_COLUMNS.has(column)) return datetimeText(column, value ?? null);
  return value === null || value === undefined ? "" : String(value);
}

function eventOf(raw: Record<string, RawCell>, spec: RowSpec): DetectionEvent {
  // A common column the rule's query does not produce reads as "" (never a datetime: the
  // identifying columns, datetimes among them, are always produced; engineQuery.ts).
  const event = Object.fromEntries(
    EVENT_COLUMNS.map((c) => [c, c in raw ? cellText(c, raw[c]) : ""]),
  ) as unknown as DetectionEvent;
  if (spec.other.length > 0) {
    event.OtherColumns = Object.fromEntries(
      spec.other.map((c) => [c, raw[c] === null || raw[c] === undefined ? "" : String(raw[c])]),
    );
  }
  const table: string = event.SourceTable;
  if (!spec.tables.includes(table)) {
    throw new RowProblem(`unknown SourceTable '${table.slice(0, 60)}'`);
  }
  for (const column of IDENTIFIER_COLUMNS) {
    const length = event[column].length;
    if (length > MAX_IDENTIFIER_CHARS) {
      throw new RowProblem(
        `${column} is ${length} characters long (an identifier has at most ${MAX_IDENTIFIER_CHARS})`,
      );
    }
  }
  if (spec.fileOrHash && !event.FileName && !event.SHA1) {
    throw new RowProblem("FileName and SHA1 are both empty");
  }
  return event;
}

/**
 * Turns the query's result table into events, normalising datetimes to ISO and nulls to "", and
 * quarantines each row that cannot be processed. A table without the expected columns is a
 * ResultShapeError: that is the query's fault, not a row's.
 */
export function readRows(table: LogsTable, spec: RowSpec = NBTSCAN_ROWS): RowsRead {
  const index = new Map(table.columnDescriptors.map((c, i) => [c.name ?? "", i]));
  const missing = [...spec.required, ...spec.other].filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw new ResultShapeError(`query result lacks column(s) ${missing.join(", ")}`);
  }
  const read: RowsRead = { events: [], quarantined: [] };
  const columns = [...new Set<string>([...spec.required, ...spec.other])];
  for (const row of table.rows) {
    const raw: Record<string, RawCell> = Object.fromEntries(
      columns.map((c) => [c, rawCell(row[index.get(c) as number])]),
    );
    try {
      read.events.push(eventOf(raw, spec));
    } catch (error) {
      if (!(error instanceof RowProblem)) throw error;
      read.quarantined.push({ reason: error.message, row: raw });
    }
  }
  return read;
}
