// Runs KQL through the local engine over small tables given inline, and turns the result into
// plain values for assertions: datetimes and timespans as Kusto prints them.
import { runKql, tableFromRecords } from "../../../sandbox/kql/evaluate";
import {
  formatDateTime,
  formatTimespan,
  KqlDateTime,
  KqlTimespan,
  type KqlValue,
  type Table,
} from "../../../sandbox/kql/values";
import type { Watchlists } from "../../../sandbox/kql/watchlist";
import type { TableSchema } from "../../../sandbox/kusto";

/** A small table: its columns (name → Kusto type) and rows (column → value, datetimes as text). */
export interface TestTable {
  columns: Record<string, string>;
  rows: Record<string, unknown>[];
  /** ingestion_time() per row (ISO text); the Unix epoch when not given. */
  ingested?: string[];
}

export const NOW = new Date("2026-11-25T12:00:00Z");

export interface RunOptions {
  watchlists?: Watchlists;
  now?: Date;
  /** Schemas of tables that exist but hold no rows. */
  schemas?: TableSchema[];
}

export function plain(value: KqlValue): unknown {
  if (value instanceof KqlDateTime) return formatDateTime(value);
  if (value instanceof KqlTimespan) return formatTimespan(value);
  return value;
}

export function schemaOf(name: string, columns: Record<string, string>): TableSchema {
  return {
    Name: name,
    Properties: Object.entries(columns).map(([Name, Type]) => ({ Name, Type })),
  };
}

/** Runs the query; returns the raw result table. */
export function runTable(
  query: string,
  tables: Record<string, TestTable> = {},
  options: RunOptions = {},
): Table {
  const schemas = [
    ...Object.entries(tables).map(([name, t]) => schemaOf(name, t.columns)),
    ...(options.schemas ?? []),
  ];
  const data = new Map(
    Object.entries(tables).map(([name, t]) => [
      name,
      tableFromRecords(
        schemaOf(name, t.columns),
        t.rows.map((cells, i) => ({
          cells,
          ingestionTime: Date.parse(t.ingested?.[i] ?? "1970-01-01T00:00:00Z"),
        })),
      ),
    ]),
  );
  return runKql(query, {
    schemas,
    tables: data,
    watchlists: options.watchlists,
    now: options.now ?? NOW,
  });
}

/** Runs the query; returns column names and plain rows. */
export function run(
  query: string,
  tables: Record<string, TestTable> = {},
  options: RunOptions = {},
): { columns: string[]; rows: unknown[][] } {
  const table = runTable(query, tables, options);
  return {
    columns: table.columns.map((c) => c.name),
    rows: table.rows.map((r) => r.values.map(plain)),
  };
}

/** The value of one scalar expression (`print r = <expression>`). */
export function scalar(expression: string, options: RunOptions = {}): unknown {
  return run(`print r = ${expression}`, {}, options).rows[0][0];
}

/** The rows of one column. */
export function column(
  query: string,
  tables: Record<string, TestTable> = {},
  options: RunOptions = {},
): unknown[] {
  return run(query, tables, options).rows.map((r) => r[0]);
}
