import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { DetectionEvent } from "../functions/model";
import { MAX_ROWS, WINDOW_END, WINDOW_START } from "../functions/query/buildQuery";
import {
  inspectKql,
  InvalidDatetimeLiteralError,
  loadTableSchemas,
  readLetDatetimes,
  readLetLongs,
  tableSchemaDir,
  type KqlColumn,
  type KqlDiagnostic,
  type TableSchema,
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
// What it does NOT do is run KQL. It holds events that the hunting predicate (file name
// nbtscan.exe or a known SHA1) already matches, and applies only the two time filters the
// detection adds: IngestionTime in [WindowStart, WindowEnd), read from the query's
// `let` statements, and TimeGenerated inside the request's timespan, which the real service
// applies before the query runs. The query's logic is covered by the Kusto.Language tests; here
// it is parsed and analysed against the table schemas, so a broken query still gets the 400 the
// service would give, and the result columns and types are the ones the query projects.
//
// It also serves the run's table-liveness query (functions/detection/table-liveness.kql): the
// newest ingestion time of each table, from the stored events and from `tableActivity`, the
// newest ingestion of the events the detection does not match (which it does not store). A table
// in `missingTables` is absent from the workspace: any query naming it gets the semantic error.
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
  /** Set on the table-liveness query (functions/detection/table-liveness.kql). */
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

interface AnalysedQuery {
  /** The detection's ingestion window; undefined for the table-liveness query. */
  window: TimeRange | undefined;
  /** The detection's `top MaxRows by IngestionTime asc`: how many rows, earliest ingested first. */
  maxRows?: number;
  columns: KqlColumn[];
}

/** The table-liveness query's result shape: the one other query the stand-in can serve. */
const LIVENESS_COLUMNS = [
  { name: "SourceTable", type: "string" },
  { name: "LastIngested", type: "datetime" },
];

function isLivenessQuery(columns: KqlColumn[] | undefined): boolean {
  return JSON.stringify(columns) === JSON.stringify(LIVENESS_COLUMNS);
}

/** Analyses the query as the service would (400 on errors) and reads its ingestion window. */
function analyseQuery(query: string, schemas: TableSchema[]): AnalysedQuery | ErrorResponse {
  const inspection = inspectKql(query, schemas);
  const syntax = inspection.syntaxDiagnostics.find(isError);
  if (syntax) {
    const { line, pos } = lineAndPos(query, syntax.start);
    return apiErrors.syntaxError(syntax.message, line, pos);
  }
  const semantic = inspection.diagnostics.find(isError);
  if (semantic) return apiErrors.semanticError(semantic.message);

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
  if (!start && !end && isLivenessQuery(inspection.resultColumns)) {
    return { window: undefined, columns: LIVENESS_COLUMNS };
  }
  if (!start || !end || !inspection.resultColumns) {
    // A limit of the stand-in, not of the service: it only knows how to serve the detection.
    return apiErrors.badArgument(
      `Stand-in: the query must bind ${WINDOW_START} and ${WINDOW_END} with datetime literals ` +
        "and return a table",
    );
  }
  const maxRows = readLetLongs(query).get(MAX_ROWS);
  return { window: { start, end }, maxRows, columns: inspection.resultColumns };
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

  /**
   * The events the detection query would return from the scanned rows for this window: with
   * MaxRows, the first that many by ingestion time, as the detection's `top` orders them.
   */
  function select(window: TimeRange, scanned: StoredEvent[], maxRows?: number): DetectionEvent[] {
    const matching = scanned.filter((s) => inside(s.ingestionTime, window));
    if (maxRows === undefined) return matching.map((s) => s.event);
    return matching
      .sort((a, b) => a.ingestionTime - b.ingestionTime)
      .slice(0, maxRows)
      .map((s) => s.event);
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

  /** Newest ingestion time per existing table among the scanned rows and the activity. */
  function lastIngested(scanned: StoredEvent[], range: TimeRange | undefined): object[] {
    const newest = new Map<string, number>();
    const note = (table: string, time: number) =>
      newest.set(table, Math.max(time, newest.get(table) ?? time));
    for (const s of scanned) note(s.event.SourceTable, s.ingestionTime);
    for (const [table, time] of activity) {
      if (!range || inside(time.getTime(), range)) note(table, time.getTime());
    }
    return schemas
      .filter((t) => newest.has(t.Name))
      .map((t) => ({
        SourceTable: t.Name,
        LastIngested: new Date(newest.get(t.Name) ?? 0).toISOString(),
      }));
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

    const analysed = analyseQuery(request.query, schemas);
    if ("status" in analysed) return fromError(analysed);
    const scanned = scan(request.range);
    log.scannedRows = scanned.length;
    if (analysed.window === undefined) {
      const rows = lastIngested(scanned, request.range);
      log.rowCount = rows.length;
      return { status: 200, body: { tables: [resultTable(analysed.columns, rows)] } };
    }
    options.onDetectionQuery?.();
    log.windowStart = analysed.window.start.toISOString();
    log.windowEnd = analysed.window.end.toISOString();
    log.maxRows = analysed.maxRows;

    const matching = select(analysed.window, scanned, analysed.maxRows);
    const limit = options.maxRowsPerResponse;
    const truncated = limit !== undefined && matching.length > limit;
    const rows = truncated ? matching.slice(0, limit) : matching;
    const response: QueryResponse = {
      tables: [resultTable(analysed.columns, rows)],
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

function isError(d: KqlDiagnostic): boolean {
  return d.severity === "Error";
}
