// Exclusions from a Microsoft Sentinel watchlist (EXCLUSIONS_WATCHLIST): SOC analysts add, edit and
// expire them in the Sentinel portal, which records who changed what. Each run reads the
// watchlist through the detection's own Log Analytics client (`_GetWatchlist`), maps every row to
// an exclusion and checks it as one from EXCLUSIONS_FILE is. A bad row is one warning naming the
// watchlist, the row and the field, with a valid example; it is skipped and the others apply.
//
// The columns are written down once, in exclusions-watchlist.json (the Bicep that creates the
// watchlist and the sandbox read the same file):
//   Name       the exclusion's name (the watchlist's search key)   it-nightly-inventory
//   Expires    a date (through that day, UTC) or a date-time        2026-06-30
//   Reason     why the activity is benign                           CHG0012345, verified ...
//   Owner      who renews or removes it                             secops@contoso.com
//   Devices    DeviceName values, separated by commas (optional)    inv01.contoso.com, inv02...
//   Accounts   DOMAIN\name or name, separated by commas (optional)  CONTOSO\svc-inventory
//   Condition  the condition, as JSON or YAML flow text             { column: FolderPath, contains: Inventory }
import { readFileSync } from "node:fs";
import path from "node:path";
import { LogsQueryResultStatus, type LogsQueryClient } from "@azure/monitor-query-logs";
import { DataFileError, parseYamlText } from "../dataFile";
import type { RunLog } from "../run/runLog";
import {
  checkExclusionEntry,
  exclusionsAt,
  loadExclusions,
  toExclusion,
  type Exclusion,
  type ExclusionSet,
  type ExclusionSource,
  type FieldExamples,
} from "./exclusions";
import watchlistContract from "./exclusions-watchlist.json";

/** The watchlist's columns, its search key and an example row (exclusions-watchlist.json). */
export const EXCLUSIONS_WATCHLIST = watchlistContract as {
  searchKey: string;
  columns: string[];
  example: Record<string, string>;
  /** The row the Bicep creates with the watchlist: valid, and matching no device. */
  templateRow: Record<string, string>;
};

/** The query that reads the watchlist (beside this module; in the bundle, beside index.js). */
export const WATCHLIST_KQL_FILE = path.join(__dirname, "exclusions-watchlist.kql");
/** Name of the let-bound alias the KQL file reads. */
export const WATCHLIST_ALIAS_PARAMETER = "WatchlistAlias";

/**
 * What a watchlist alias may be here: letters, digits, '-' and '_', as Sentinel's own aliases
 * are written. The alias goes into the query as a string literal, so no quote can be in it.
 */
export const WATCHLIST_ALIAS = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * The span of the watchlist query. The Log Analytics API applies a timespan to every table a
 * query reads, the Watchlist table behind `_GetWatchlist` included; Sentinel writes the items
 * there when they change and re-writes them periodically, so a wide span reads every current
 * item, and `_GetWatchlist` itself keeps only each item's latest version.
 */
const WATCHLIST_SPAN = "P90D";

/** Column → field of an exclusion. */
const FIELD_OF_COLUMN: Record<string, string> = {
  Name: "name",
  Expires: "expires",
  Reason: "reason",
  Owner: "owner",
  Devices: "devices",
  Accounts: "accounts",
  Rules: "rules",
  Condition: "condition",
};
const LIST_FIELDS = new Set(["devices", "accounts", "rules"]);

/** A valid cell of each field, as an analyst types it in the portal. */
const CELL_EXAMPLES: FieldExamples = Object.fromEntries(
  Object.entries(FIELD_OF_COLUMN).map(([column, field]) => [
    field,
    `${column}: ${EXCLUSIONS_WATCHLIST.example[column]}`,
  ]),
);

/** One row of `_GetWatchlist(alias)`: its search key, item id and the item's cells. */
export interface WatchlistRow {
  searchKey: string;
  itemId: string;
  item: Record<string, unknown>;
}

/** What a watchlist gives a run: its exclusions, and one warning per row skipped. */
export interface WatchlistExclusions {
  exclusions: Exclusion[];
  warnings: string[];
}

function cellText(item: Record<string, unknown>, column: string): string | undefined {
  const value = item[column];
  if (value === undefined || value === null) return undefined;
  const text = (typeof value === "string" ? value : JSON.stringify(value)).trim();
  return text === "" ? undefined : text;
}

/** The exclusion a row spells out, or the problem that stops it being read at all. */
function rowEntry(item: Record<string, unknown>): { raw: Record<string, unknown> } | string {
  const raw: Record<string, unknown> = {};
  for (const [column, field] of Object.entries(FIELD_OF_COLUMN)) {
    const text = cellText(item, column);
    if (text === undefined) continue;
    if (LIST_FIELDS.has(field)) {
      raw[field] = text
        .split(/[,;\n]/)
        .map((part) => part.trim())
        .filter((part) => part !== "");
    } else if (field === "condition") {
      try {
        raw[field] = parseYamlText(text, "Condition");
      } catch (error) {
        if (!(error instanceof DataFileError)) throw error;
        return `Condition is not JSON or YAML (${error.message}); e.g. ${CELL_EXAMPLES.condition}`;
      }
    } else {
      raw[field] = text;
    }
  }
  return { raw };
}

/**
 * Maps watchlist rows to exclusions; pure. `taken` holds the names (lower case) of the exclusions
 * from EXCLUSIONS_FILE or EXCLUSIONS, `takenBy` names that source: a row using one of them is
 * skipped, so each name stays one exclusion in the audit trail.
 */
export function exclusionsFromWatchlist(
  alias: string,
  rows: readonly WatchlistRow[],
  taken: ReadonlySet<string> = new Set(),
  takenBy = "EXCLUSIONS_FILE",
): WatchlistExclusions {
  const exclusions: Exclusion[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    const name = cellText(row.item, EXCLUSIONS_WATCHLIST.searchKey);
    const key = row.searchKey.trim() || name || (row.itemId ? `item ${row.itemId}` : `#${i + 1}`);
    const label = `exclusions watchlist '${alias}' (EXCLUSIONS_WATCHLIST), row '${key.slice(0, 100)}'`;
    const skip = (problem: string): void => {
      warnings.push(`${label}: ${problem}; row skipped, the others apply`);
    };
    const entry = rowEntry(row.item);
    if (typeof entry === "string") return skip(entry);
    const checked = checkExclusionEntry(entry.raw, CELL_EXAMPLES);
    if (!checked.ok) return skip(checked.problems.join("; "));
    const lower = checked.entry.name.toLowerCase();
    if (taken.has(lower)) {
      return skip(
        `name '${checked.entry.name}' is also an exclusion in ${takenBy}, which applies; rename one of them`,
      );
    }
    if (seen.has(lower)) {
      return skip(
        `name '${checked.entry.name}' is used by an earlier row; each exclusion needs its own name (the audit trail records it)`,
      );
    }
    seen.add(lower);
    exclusions.push(toExclusion(checked.entry));
  });
  return { exclusions, warnings };
}

/** What reading the watchlist needs from the detection's query settings. */
export interface WatchlistQuery {
  client: LogsQueryClient;
  workspaceId: string;
  timeoutMs: number;
}

/** The watchlist could not be read: the run fails with this line (see loadRunExclusions). */
export class WatchlistReadError extends Error {
  constructor(alias: string, detail: string, cause?: unknown) {
    super(
      `exclusions watchlist '${alias}' (EXCLUSIONS_WATCHLIST) could not be read from Log Analytics: ${detail}`,
      { cause },
    );
    this.name = "WatchlistReadError";
  }
}

let watchlistKql: string | undefined;

/** The query that reads watchlist `alias`: the KQL file with the alias let-bound before it. */
export function watchlistQuery(alias: string): string {
  if (!WATCHLIST_ALIAS.test(alias)) throw new RangeError(`invalid watchlist alias '${alias}'`);
  watchlistKql ??= readFileSync(WATCHLIST_KQL_FILE, "utf8");
  return `let ${WATCHLIST_ALIAS_PARAMETER} = '${alias}';\n${watchlistKql}`;
}

function cellOf(value: unknown): string {
  if (typeof value === "string") return value;
  return value === undefined || value === null ? "" : JSON.stringify(value);
}

function itemOf(value: unknown): Record<string, unknown> {
  // The SDK parses dynamic columns; a string is parsed here in case it did not.
  let item = value;
  if (typeof item === "string") {
    try {
      item = JSON.parse(item) as unknown;
    } catch {
      return {};
    }
  }
  return typeof item === "object" && item !== null && !Array.isArray(item)
    ? (item as Record<string, unknown>)
    : {};
}

/** Reads every row of watchlist `alias`; any failure is a WatchlistReadError. */
export async function readWatchlistRows(q: WatchlistQuery, alias: string): Promise<WatchlistRow[]> {
  let result;
  try {
    result = await q.client.queryWorkspace(
      q.workspaceId,
      watchlistQuery(alias),
      { duration: WATCHLIST_SPAN },
      {
        serverTimeoutInSeconds: Math.ceil(q.timeoutMs / 1000),
        requestOptions: { timeout: q.timeoutMs },
      },
    );
  } catch (error) {
    throw new WatchlistReadError(
      alias,
      error instanceof Error ? error.message : String(error),
      error,
    );
  }
  // A partial watchlist would silently drop exclusions: treated as unreadable.
  if (result.status !== LogsQueryResultStatus.Success) {
    throw new WatchlistReadError(alias, `partial result (${result.partialError.message ?? ""})`);
  }
  const [table] = result.tables;
  if (!table) return [];
  const columns = table.columnDescriptors.map((c) => c.name ?? "");
  const at = (name: string): number => columns.indexOf(name);
  const [searchKey, itemId, item] = [at("SearchKey"), at("_DTItemId"), at("WatchlistItem")];
  return table.rows.map((row) => ({
    searchKey: searchKey < 0 ? "" : cellOf(row[searchKey]),
    itemId: itemId < 0 ? "" : cellOf(row[itemId]),
    item: item < 0 ? {} : itemOf(row[item]),
  }));
}

/** Where a run's exclusions come from: the file or inline document, and the watchlist. */
export interface RunExclusionSource extends ExclusionSource {
  /** EXCLUSIONS_WATCHLIST: the alias of the Sentinel watchlist; undefined when not set. */
  watchlist?: string;
}

/**
 * The exclusions in force for one run: those of EXCLUSIONS_FILE or EXCLUSIONS, merged with the
 * watchlist's. Logs one warning per skipped row and per expired exclusion.
 *
 * An unreadable watchlist fails the run (WatchlistReadError, which the failure line attributes to
 * Log Analytics) rather than running without it. Running without would turn every exclusion an
 * analyst approved into an incident for as long as the outage lasts, and a delivered incident
 * cannot be taken back. Failing costs nothing: the watermark stays, the next run reads the same
 * window again, so no hit is lost within LOOKBACK; the failure counts as a failed invocation the
 * health alert sees. And the watchlist is read from the same workspace, through the same client
 * and identity, as the detection itself, which would fail the run in the same outage anyway.
 */
export async function loadRunExclusions(
  source: RunExclusionSource,
  query: WatchlistQuery,
  now: Date,
  log: RunLog,
): Promise<ExclusionSet> {
  const local = loadExclusions(source, now);
  const all: Exclusion[] = [...local.active];
  const expired = [...local.expired];
  if (source.watchlist) {
    const rows = await readWatchlistRows(query, source.watchlist);
    const taken = new Set([...local.active, ...local.expired].map((e) => e.name.toLowerCase()));
    const fromWatchlist = exclusionsFromWatchlist(
      source.watchlist,
      rows,
      taken,
      source.inline?.trim() ? "EXCLUSIONS" : (source.file ?? "EXCLUSIONS_FILE"),
    );
    for (const warning of fromWatchlist.warnings) log.warn(warning);
    const split = exclusionsAt(fromWatchlist.exclusions, now);
    all.push(...split.active);
    expired.push(...split.expired);
  }
  for (const e of expired) {
    log.warn(`exclusion '${e.name}' expired on ${e.expires}; it no longer suppresses anything`);
  }
  return { active: all, expired };
}
