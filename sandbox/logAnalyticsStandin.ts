import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { DetectionEvent } from "../functions/model";
import { MAX_ROWS, WINDOW_END, WINDOW_START } from "../functions/query/buildQuery";
import { KqlRuntimeError, KqlUnsupportedError } from "./kql/errors";
import {
  checkKql,
  KqlQueryError,
  resultColumnsOf,
  rowFromRecord,
  runKql,
  schemaColumns,
} from "./kql/evaluate";
import { toWireText, type Row, type Table } from "./kql/values";
import type { Watchlist, Watchlists } from "./kql/watchlist";
import {
  inspectKql,
  InvalidDatetimeLiteralError,
  loadTableSchemas,
  readLetDatetimes,
  readLetLongs,
  tableSchemaDir,
  type KqlColumn,
} from "./kusto";
import {
  apiErrors,
  resultTable,
  resultTruncatedError,
  type ErrorResponse,
  type QueryResponse,
  type QueryStatistics,
} from "./logAnalyticsWire";
import {
  catchAs500,
  closeServer,
  listenOnLoopback,
  LOOPBACK,
  readBody,
  sendJson,
} from "./loopback";
import { InvalidTimespanError, parseTimespan, type TimeRange } from "./timespan";
import { createLoopbackCertificate, type LoopbackCertificate } from "./tls";

// A stand-in for the Log Analytics query API (POST {endpoint}/v1/workspaces/{id}/query), close
// enough that the real LogsQueryClient runs against it unchanged: bearer auth, the documented
// error bodies, typed result tables, partial results, throttling.
//
// It runs the query. Stored events are ordinary Defender rows (each names its table in
// SourceTable, and its ingestion time in IngestionTime, which the query reads as
// ingestion_time()); the local KQL engine (sandbox/kql) evaluates the request's query over them,
// so the detection's own logic decides what comes back. Kusto.Language analyses the query against
// the table schemas first: a broken query gets the 400 the service would give, and a construct
// the local engine does not evaluate gets the same 400 with a message naming it.
//
// What the service does around the query, the stand-in does too: the request's timespan bounds
// TimeGenerated before the query runs (learn.microsoft.com/azure/azure-monitor/logs/api/timespan:
// the timespan is applied in addition to any filter in the query); the detection's ingestion
// window is the query's own `where ingestion_time()` (its WindowStart/WindowEnd lets are logged).
//
// `tableActivity` stands for a table's other traffic: one unremarkable row per table (no file
// name, no hash) ingested and generated at that time, so the table-liveness query sees the table
// alive. It is not counted as a scanned row. A table in `missingTables` is absent from the
// workspace: any query naming it gets the semantic error. `watchlists` are Sentinel watchlists,
// served to `_GetWatchlist('alias')` (see sandbox/kql/watchlist.ts for the columns).
//
// Data scanned: the service reads every row whose TimeGenerated falls in the timespan before the
// query's own filters run, and (with Prefer: include-statistics=true) says so in
// statistics.query.inputDatasetStatistics. The stand-in counts the same: stored rows inside the
// timespan, and one extent per UTC day of TimeGenerated among them.

/** How to start the stand-in. */
export interface LogAnalyticsStandinOptions {
  /** The one workspace that exists; any other id gets 404 WorkspaceNotFoundError. */
  workspaceId: string;
  /** Certificate to serve; a fresh self-signed loopback one by default. */
  tls?: LoopbackCertificate;
  /** Events stored from the start (more with addEvents). */
  events?: readonly DetectionEvent[];
  /** Largest result before the engine truncates it and reports a PartialError. */
  maxRowsPerResponse?: number;
  /** When set, a bearer token other than this one gets 403 InvalidAuthenticationToken. */
  acceptedToken?: string;
  /** Clock for timespans given as a bare duration ("PT1H" ends now). */
  now?: () => Date;
  /** Per table, the newest ingestion (and event) time of its events the detection ignores. */
  tableActivity?: Record<string, Date>;
  /** Tables that do not exist in this workspace (their connector was never enabled). */
  missingTables?: readonly string[];
  /** Sentinel watchlists by alias, served to `_GetWatchlist('alias')`. */
  watchlists?: Watchlists;
  /** Called as each detection query is answered: a test moves its clock with it (a slow query). */
  onDetectionQuery?: () => void;
}

/**
 * A scripted response served before normal behaviour, e.g. 429 with Retry-After. Faults answer
 * the detection's queries; the table-liveness query is always answered normally.
 */
export interface StandinFault {
  status: number;
  headers?: Record<string, string>;
  /** JSON body; a generic `{ error }` matching the status by default. */
  body?: unknown;
  /** How many consecutive requests get it (default 1). */
  times?: number;
  /** Never answer (a hung request; the client's timeout must end it). */
  hang?: boolean;
  /** Send exactly this text as the body instead of JSON (an empty or broken answer). */
  rawBody?: string;
}

/** What one request asked for and what it got. */
export interface StandinRequest {
  method: string;
  path: string;
  workspaceId?: string;
  authorization: boolean;
  prefer?: string;
  timespan?: string;
  windowStart?: string;
  windowEnd?: string;
  /** The detection's MaxRows, when the query bound it. */
  maxRows?: number;
  status: number;
  /** The error code returned, for non-200 responses and partial results. */
  errorCode?: string;
  rowCount: number;
  /** Stored rows inside the request's timespan: what the service would read to answer. */
  scannedRows: number;
  partial: boolean;
  /** Set on the table-liveness query (functions/query/table-liveness.kql). */
  liveness?: true;
  /** Answered by an enqueued fault. */
  fault: boolean;
}

/** A running stand-in. */
export interface LogAnalyticsStandin {
  /** The LogsQueryClient `endpoint`: https://127.0.0.1:<port>/v1 */
  url: string;
  /** PEM certificate the server presents; trust it with `new https.Agent({ ca: cert })`. */
  cert: string;
  workspaceId: string;
  /** Every request received, in order. */
  requests: StandinRequest[];
  addEvents(events: readonly DetectionEvent[]): void;
  /** Sets (or, with undefined, clears) a table's newest ingestion of events nobody matches. */
  setTableActivity(table: string, ingestedAt: Date | undefined): void;
  /** Creates, replaces or (with undefined) deletes a watchlist. */
  setWatchlist(alias: string, watchlist: Watchlist | undefined): void;
  enqueueFault(fault: StandinFault): void;
  close(): Promise<void>;
}

interface StoredEvent {
  event: DetectionEvent;
  timeGenerated: number;
  ingestionTime: number;
}

const QUERY_PATH = /^\/v1\/workspaces\/([^/]+)\/query$/;

function storedEvent(event: DetectionEvent): StoredEvent {
  const timeGenerated = Date.parse(event.TimeGenerated);
  const ingestionTime = Date.parse(event.IngestionTime);
  if (Number.isNaN(timeGenerated) || Number.isNaN(ingestionTime)) {
    throw new Error(
      `event ${event.DeviceName} ${event.ReportId}: TimeGenerated and IngestionTime must be datetimes`,
    );
  }
  return { event, timeGenerated, ingestionTime };
}

function lineAndPos(text: string, offset: number): { line: number; pos: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, pos: before[before.length - 1].length + 1 };
}

function faultBody(status: number): { error: { code: string; message: string } } {
  const code =
    status === 429 ? "TooManyRequests" : status >= 500 ? "ServiceUnavailable" : "FaultInjected";
  return { error: { code, message: `Stand-in fault: HTTP ${status}` } };
}

interface QueryRequest {
  query: string;
  timespan?: string;
  range?: TimeRange;
}

/** Reads `{ query, timespan }` from the body; an ErrorResponse when it is not usable. */
function parseQueryRequest(bodyText: string, now: () => Date): QueryRequest | ErrorResponse {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return apiErrors.badArgument("The request body is not valid JSON");
  }
  const { query, timespan } = (body ?? {}) as { query?: unknown; timespan?: unknown };
  if (typeof query !== "string" || query.trim() === "") {
    return apiErrors.badArgument("The request had some invalid properties: query");
  }
  if (timespan === undefined) return { query };
  if (typeof timespan !== "string") {
    return apiErrors.badArgument("The request had some invalid properties: timespan");
  }
  try {
    return { query, timespan, range: parseTimespan(timespan, now()) };
  } catch (error) {
    if (error instanceof InvalidTimespanError) return apiErrors.badArgument(error.message);
    throw error;
  }
}

/** The table-liveness query's result shape (functions/query/table-liveness.kql). */
const LIVENESS_COLUMNS = [
  { name: "SourceTable", type: "string" },
  { name: "LastIngested", type: "datetime" },
];

function isLivenessQuery(columns: KqlColumn[] | undefined): boolean {
  return JSON.stringify(columns) === JSON.stringify(LIVENESS_COLUMNS);
}

/** The detection's ingestion window and row bound, read from its `let` statements. */
interface DetectionLets {
  window?: TimeRange;
  maxRows?: number;
}

/** Reads WindowStart/WindowEnd/MaxRows (undefined window: not the detection's query). */
function detectionLets(query: string): DetectionLets | ErrorResponse {
  let lets: Map<string, Date>;
  try {
    lets = readLetDatetimes(query);
  } catch (error) {
    if (!(error instanceof InvalidDatetimeLiteralError)) throw error;
    const { line, pos } = lineAndPos(query, Math.max(query.indexOf(error.literal), 0));
    return apiErrors.syntaxError(error.message, line, pos);
  }
  const start = lets.get(WINDOW_START);
  const end = lets.get(WINDOW_END);
  return {
    window: start && end ? { start, end } : undefined,
    maxRows: readLetLongs(query).get(MAX_ROWS),
  };
}

/** The service's 400 for a query the analyser or the local engine refuses. */
function queryError(query: string, error: unknown): ErrorResponse | undefined {
  if (error instanceof KqlQueryError) {
    if (error.kind === "semantic") return apiErrors.semanticError(error.detail);
    const { line, pos } = lineAndPos(query, error.start);
    return apiErrors.syntaxError(error.detail, line, pos);
  }
  if (error instanceof KqlUnsupportedError || error instanceof KqlRuntimeError) {
    return apiErrors.semanticError(error.message);
  }
  return undefined;
}

interface Outcome {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function fromError(error: ErrorResponse): Outcome {
  return { status: error.status, body: error.body };
}

/** Starts the Log Analytics query API stand-in on https://127.0.0.1:<port>/v1. */
export async function startLogAnalyticsStandin(
  options: LogAnalyticsStandinOptions,
): Promise<LogAnalyticsStandin> {
  const tls = options.tls ?? (await createLoopbackCertificate());
  const missing = new Set(options.missingTables ?? []);
  const schemas = loadTableSchemas(tableSchemaDir()).filter((t) => !missing.has(t.Name));
  const activity = new Map(Object.entries(options.tableActivity ?? {}));
  const watchlists: Record<string, Watchlist> = { ...options.watchlists };
  const now = options.now ?? (() => new Date());
  const stored: StoredEvent[] = (options.events ?? []).map(storedEvent);
  const faults: StandinFault[] = [];
  const requests: StandinRequest[] = [];

  /** Auth and workspace checks, in the order the service makes them. */
  function refuseAccess(req: IncomingMessage, workspaceId: string): ErrorResponse | undefined {
    const authorization = req.headers.authorization;
    if (!authorization) return apiErrors.missingAuthorization();
    const bearer = /^Bearer (\S+)$/.exec(authorization);
    if (!bearer) return apiErrors.malformedAuthorization();
    if (options.acceptedToken !== undefined && bearer[1] !== options.acceptedToken) {
      return apiErrors.invalidToken();
    }
    if (workspaceId !== options.workspaceId) return apiErrors.workspaceNotFound(workspaceId);
    return undefined;
  }

  /** The rows the service reads for this timespan, before the query's own filters. */
  function scan(range: TimeRange | undefined): StoredEvent[] {
    return range ? stored.filter((s) => inside(s.timeGenerated, range)) : stored;
  }

  const columnsByTable = new Map(schemas.map((t) => [t.Name, schemaColumns(t)]));
  const schemaByTable = new Map(schemas.map((t) => [t.Name, t]));
  // Each stored event is typed into its table's row once, not on every query.
  const rowCache = new WeakMap<StoredEvent, Row>();

  function storedRow(s: StoredEvent): Row | undefined {
    const cached = rowCache.get(s);
    if (cached) return cached;
    const schema = schemaByTable.get(s.event.SourceTable);
    const columns = columnsByTable.get(s.event.SourceTable);
    if (!schema || !columns) return undefined; // its table is missing from the workspace
    // A row's other columns (RemotePort, AccountName...) sit beside the common ones in its table.
    const cells = { ...s.event, ...s.event.OtherColumns };
    const row = rowFromRecord(schema, columns, { cells, ingestionTime: s.ingestionTime });
    rowCache.set(s, row);
    return row;
  }

  /** The workspace's tables as the query sees them: the scanned rows and the activity rows. */
  function workspaceTables(
    scanned: StoredEvent[],
    range: TimeRange | undefined,
  ): Map<string, Table> {
    const tables = new Map<string, Table>();
    for (const schema of schemas) {
      tables.set(schema.Name, { columns: columnsByTable.get(schema.Name) ?? [], rows: [] });
    }
    for (const s of scanned) {
      const row = storedRow(s);
      if (row) tables.get(s.event.SourceTable)?.rows.push(row);
    }
    for (const [table, time] of activity) {
      const schema = schemaByTable.get(table);
      const columns = columnsByTable.get(table);
      if (!schema || !columns || (range && !inside(time.getTime(), range))) continue;
      const at = time.toISOString();
      const record = { cells: { TimeGenerated: at, Timestamp: at }, ingestionTime: time.getTime() };
      tables.get(table)?.rows.push(rowFromRecord(schema, columns, record));
    }
    return tables;
  }

  /** True for a well-formed request carrying the table-liveness query. */
  function isLivenessRequest(bodyText: string): boolean {
    try {
      const { query } = JSON.parse(bodyText) as { query?: unknown };
      return typeof query === "string" && isLivenessQuery(inspectKql(query, schemas).resultColumns);
    } catch {
      return false;
    }
  }

  function answerQuery(
    req: IncomingMessage,
    workspaceId: string,
    bodyText: string,
    log: StandinRequest,
  ): Outcome {
    const refused = refuseAccess(req, workspaceId);
    if (refused) return fromError(refused);

    const request = parseQueryRequest(bodyText, now);
    if ("status" in request) return fromError(request);
    log.timespan = request.timespan;

    let columns: KqlColumn[] | undefined;
    try {
      columns = resultColumnsOf(checkKql(request.query, schemas, watchlists));
    } catch (error) {
      const refusal = queryError(request.query, error);
      if (refusal) return fromError(refusal);
      throw error;
    }
    const lets = detectionLets(request.query);
    if ("status" in lets) return fromError(lets);
    if (!columns) {
      return fromError(apiErrors.semanticError("The query does not return a table"));
    }
    if (lets.window) {
      options.onDetectionQuery?.();
      log.windowStart = lets.window.start.toISOString();
      log.windowEnd = lets.window.end.toISOString();
      log.maxRows = lets.maxRows;
    }

    const scanned = scan(request.range);
    log.scannedRows = scanned.length;
    let result: Table;
    try {
      result = runKql(request.query, {
        schemas,
        tables: workspaceTables(scanned, request.range),
        watchlists,
        now: now(),
      });
    } catch (error) {
      const refusal = queryError(request.query, error);
      if (refusal) return fromError(refusal);
      throw error;
    }
    const limit = options.maxRowsPerResponse;
    const truncated = limit !== undefined && result.rows.length > limit;
    const rows = truncated ? result.rows.slice(0, limit) : result.rows;
    const response: QueryResponse = {
      tables: [
        resultTable(
          result.columns,
          rows.map((row) => wireRow(result.columns, row)),
        ),
      ],
      ...(truncated ? { error: resultTruncatedError(limit) } : {}),
      ...(/\binclude-statistics=true\b/.test(log.prefer ?? "")
        ? { statistics: queryStatistics(scanned, stored) }
        : {}),
    };
    log.rowCount = rows.length;
    log.partial = truncated;
    return { status: 200, body: response };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", `https://${LOOPBACK}`);
    const bodyText = await readBody(req);
    const match = QUERY_PATH.exec(url.pathname);
    const log: StandinRequest = {
      method: req.method ?? "",
      path: url.pathname,
      workspaceId: match ? decodeURIComponent(match[1]) : undefined,
      authorization: req.headers.authorization !== undefined,
      prefer: headerText(req.headers.prefer),
      status: 0,
      rowCount: 0,
      scannedRows: 0,
      partial: false,
      fault: false,
    };
    requests.push(log);
    if (match && isLivenessRequest(bodyText)) log.liveness = true;

    let outcome: Outcome;
    const fault = log.liveness ? undefined : faults[0];
    if (fault) {
      if ((fault.times ?? 1) <= 1) faults.shift();
      else fault.times = (fault.times ?? 1) - 1;
      log.fault = true;
      if (fault.hang) return;
      if (fault.rawBody !== undefined) {
        log.status = fault.status;
        res.writeHead(fault.status, { "Content-Type": "application/json; charset=utf-8" });
        res.end(fault.rawBody);
        return;
      }
      outcome = {
        status: fault.status,
        body: fault.body ?? faultBody(fault.status),
        headers: fault.headers,
      };
    } else if (!match || req.method !== "POST") {
      outcome = fromError(apiErrors.pathNotFound());
    } else {
      try {
        outcome = answerQuery(req, log.workspaceId ?? "", bodyText, log);
      } catch (error) {
        // A stand-in bug or bad stored data: surface it loudly rather than as an empty result.
        const message = error instanceof Error ? error.message : String(error);
        outcome = { status: 500, body: { error: { code: "InternalServerError", message } } };
      }
    }
    log.status = outcome.status;
    const error = (outcome.body as { error?: { code?: unknown } } | undefined)?.error;
    if (typeof error?.code === "string") log.errorCode = error.code;
    sendJson(res, outcome.status, outcome.body, outcome.headers);
  }

  const server = createServer({ key: tls.key, cert: tls.cert }, catchAs500(handle));
  const port = await listenOnLoopback(server);

  return {
    url: `https://${LOOPBACK}:${port}/v1`,
    cert: tls.cert,
    workspaceId: options.workspaceId,
    requests,
    setTableActivity(table, ingestedAt) {
      if (ingestedAt) activity.set(table, ingestedAt);
      else activity.delete(table);
    },
    setWatchlist(alias, watchlist) {
      if (watchlist) watchlists[alias] = watchlist;
      else delete watchlists[alias];
    },
    addEvents(events) {
      stored.push(...events.map(storedEvent));
    },
    enqueueFault(fault) {
      faults.push({ ...fault });
    },
    close: () => closeServer(server),
  };
}

function inside(t: number, range: TimeRange): boolean {
  return t >= range.start.getTime() && t < range.end.getTime();
}

/** The statistics.query.inputDatasetStatistics part of a response, from what was scanned. */
function queryStatistics(scanned: StoredEvent[], stored: StoredEvent[]): QueryStatistics {
  const days = (rows: StoredEvent[]) =>
    new Set(rows.map((s) => Math.floor(s.timeGenerated / 86_400_000))).size;
  return {
    query: {
      inputDatasetStatistics: {
        extents: { total: days(stored), scanned: days(scanned) },
        rows: { total: stored.length, scanned: scanned.length },
      },
    },
  };
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

/** A result row as the wire format's resultTable reads it: each cell's text by column name. */
function wireRow(columns: KqlColumn[], row: Row): Record<string, string | undefined> {
  const cells: Record<string, string | undefined> = {};
  columns.forEach((c, i) => (cells[c.name] = toWireText(row.values[i], c.type)));
  return cells;
}
