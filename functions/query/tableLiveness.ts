import { LogsQueryResultStatus } from "@azure/monitor-query-logs";
import { isoDuration } from "../config/duration";
import type { DetectionRule } from "../detection/rule";
import { DATA_SILENCE, type RunLog } from "../run/runLog";
import type { DetectionQuery } from "./detectionQuery";

/** Newest ingestion time per table (ISO 8601); null when nothing arrived within the check's span. */
export type TablesLastIngested = Record<string, string | null>;

/** A table the detection needs, and the data connector that fills it. */
export interface RequiredTable {
  table: string;
  connectorId: string;
}

/** What the check needs from a run's dependencies. */
export interface LivenessDependencies {
  query: DetectionQuery;
  rule: DetectionRule;
  config: { dataSilenceWarningMs: number };
  now: () => Date;
  log: RunLog;
}

/** A table the detection reads does not exist in the workspace: the run cannot find anything. */
export class MissingTableError extends Error {
  constructor(readonly tables: RequiredTable[]) {
    const names = tables.map((t) => t.table).join(" and ");
    const [noun, verb] = tables.length > 1 ? ["tables", "are"] : ["table", "is"];
    const connectors = [...new Set(tables.map((t) => t.connectorId))].join(", ");
    super(
      `${DATA_SILENCE}: ${noun} ${names} ${verb} missing from the Log Analytics workspace, so the ` +
        `detection cannot run. Connect Microsoft Defender for Endpoint to Microsoft Sentinel ` +
        `(data connector ${connectors}, "Microsoft Defender XDR") with ${names} enabled.`,
    );
    this.name = "MissingTableError";
  }
}

/**
 * The tables the rule's query reads, each with the data connector its requiredDataConnectors
 * name for it (the loader refuses a rule whose connectors do not cover a table it reads).
 */
export function requiredTables(rule: DetectionRule): RequiredTable[] {
  return rule.loaded.tables.map((table) => ({
    table,
    connectorId:
      rule.requiredDataConnectors.find((c) => c.dataTypes.includes(table))?.connectorId ?? "",
  }));
}

/** Tables with nothing ingested for `silenceMs` before `now`: no time at all, or an older one. */
export function silentTables(
  lastIngested: TablesLastIngested,
  now: Date,
  silenceMs: number,
): string[] {
  return Object.entries(lastIngested)
    .filter(([, time]) => time === null || now.getTime() - Date.parse(time) >= silenceMs)
    .map(([table]) => table);
}

/** The required tables a failed query's error names as unknown; empty for any other failure. */
function tablesNamedIn(error: unknown, tables: RequiredTable[]): RequiredTable[] {
  const failure = error as { statusCode?: number; message?: string; details?: unknown };
  if (failure.statusCode !== 400) return [];
  // The engine's semantic error names the table in its innermost message; search all of it.
  const text = `${failure.message ?? ""} ${JSON.stringify(failure.details ?? null)}`;
  return tables.filter(({ table }) => text.includes(`'${table}'`));
}

/**
 * Learns the newest ingestion time of each table the detection reads, with one light query whose
 * span is DATA_SILENCE_WARNING, and warns (one DATA_SILENCE line per table) for each silent one.
 * A table missing from the workspace throws MissingTableError; any other failed request fails the
 * run as the detection's own query would. A partial result is only a warning.
 */
export async function checkTableLiveness(deps: LivenessDependencies): Promise<TablesLastIngested> {
  const tables = requiredTables(deps.rule);
  const silenceMs = deps.config.dataSilenceWarningMs;
  const silence = isoDuration(silenceMs);
  const now = deps.now();
  let rows: unknown[][];
  let columns: string[];
  try {
    const result = await deps.query.client.queryWorkspace(
      deps.query.workspaceId,
      // The rule's own: the template with the tables it reads (written at build time).
      deps.rule.loaded.livenessQuery,
      // Explicit bounds from the run's clock, so the check and the warning agree on "now".
      { startTime: new Date(now.getTime() - silenceMs), endTime: now },
      {
        serverTimeoutInSeconds: Math.ceil(deps.query.timeoutMs / 1000),
        requestOptions: { timeout: deps.query.timeoutMs },
      },
    );
    if (result.status !== LogsQueryResultStatus.Success) {
      deps.log.warn(`table liveness unknown: partial result (${result.partialError.message})`);
      return {};
    }
    const [table] = result.tables;
    rows = table?.rows ?? [];
    columns = table?.columnDescriptors.map((c) => c.name ?? "") ?? [];
  } catch (error) {
    const missing = tablesNamedIn(error, tables);
    if (missing.length > 0) throw new MissingTableError(missing);
    // Anything else (workspace not found, access refused) fails the detection's query too.
    throw error;
  }

  const tableColumn = columns.indexOf("SourceTable");
  const timeColumn = columns.indexOf("LastIngested");
  const lastIngested: TablesLastIngested = Object.fromEntries(tables.map((t) => [t.table, null]));
  for (const row of rows) {
    const name = String(row[tableColumn]);
    const time = row[timeColumn];
    if (name in lastIngested && time instanceof Date) lastIngested[name] = time.toISOString();
  }

  for (const name of silentTables(lastIngested, now, silenceMs)) {
    const connector = tables.find((t) => t.table === name)?.connectorId ?? "";
    const last = lastIngested[name];
    deps.log.warn(
      `${DATA_SILENCE}: ${name} received nothing for DATA_SILENCE_WARNING (${silence})` +
        `${last === null ? "" : `; last ingestion ${last}`}. Detection '${deps.rule.name}' finds nothing while it is ` +
        `silent: check the Microsoft Defender for Endpoint data connector (${connector}).`,
    );
  }
  return lastIngested;
}
