import type { TokenCredential } from "@azure/core-auth";
import type { Agent } from "node:https";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";
import type { DetectionEvent, IngestionWindow } from "../model";
import { retryAfterCapPolicy } from "../http/retryAfterCap";
import { attemptTimeoutPolicy, transientRetryPolicy } from "../http/transientRetry";
import { queryResponseShapePolicy } from "./responseShape";
import { buildQuery, SERVICE_MAX_ROWS } from "./buildQuery";
import { readRows, type QuarantinedRow, type RowSpec } from "./rows";
import { splitWindow, type QueryPlan } from "./window";

/** Retries of one query request (throttling, timeouts, server and network errors). */
const QUERY_MAX_RETRIES = 3;
/** First backoff step between query retries. */
const QUERY_RETRY_DELAY_MS = 1000;

/** Smallest window worth splitting further; a second that still overflows needs a human. */
const MIN_SPLIT_WINDOW_MS = 1000;
/** The API's own limit on server-side query time (Prefer: wait=). */
const MAX_SERVER_TIMEOUT_S = 600;

export interface QueryClientOptions {
  endpoint: URL;
  timeoutMs: number;
  maxRetryAfterMs: number;
  /** Only for local stand-ins whose certificate the process does not already trust. */
  agent?: Agent;
  /** Retries of one request; tests lower it. */
  maxRetries?: number;
  /** First backoff step; tests shorten it. */
  retryDelayMs?: number;
  /** The run's time left, so retries stay within the run's budget. */
  timeLeft?: QueryTimeLeft;
}

/** Builds a LogsQueryClient for the configured endpoint, its token scope and capped retries. */
export function createQueryClient(
  credential: TokenCredential,
  options: QueryClientOptions,
): LogsQueryClient {
  return new LogsQueryClient(credential, {
    endpoint: options.endpoint.toString().replace(/\/$/, ""),
    // Sovereign clouds answer on their own origin and issue tokens for it.
    credentials: { scopes: [`${options.endpoint.origin}/.default`] },
    // transientRetryPolicy retries (see functions/http/transientRetry.ts); the SDK's own would
    // give up on a 429 without Retry-After and on a timed-out request.
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [
      {
        policy: transientRetryPolicy({
          maxRetries: options.maxRetries ?? QUERY_MAX_RETRIES,
          retryDelayMs: options.retryDelayMs ?? QUERY_RETRY_DELAY_MS,
          maxRetryDelayMs: options.maxRetryAfterMs,
          timeLeftMs: () => options.timeLeft?.ms() ?? Infinity,
        }),
        position: "perCall",
      },
      { policy: queryResponseShapePolicy(), position: "perCall" },
      { policy: retryAfterCapPolicy(options.maxRetryAfterMs), position: "perRetry" },
      {
        policy: attemptTimeoutPolicy(() => options.timeLeft?.ms() ?? Infinity),
        position: "perRetry",
      },
    ],
    ...(options.agent ? { agent: options.agent } : {}),
  });
}

/** A window still partial at the smallest split: the run must not advance past it. */
export class PartialResultError extends Error {
  constructor(
    readonly window: IngestionWindow,
    readonly detail: string,
  ) {
    super(
      `Log Analytics returned a partial result for ${window.start.toISOString()}..` +
        `${window.end.toISOString()} even after splitting: ${detail}`,
    );
    this.name = "PartialResultError";
  }
}

export interface QueryOutcome {
  events: DetectionEvent[];
  /** Rows the detection cannot process, each with its reason: recorded and skipped. */
  quarantined: QuarantinedRow[];
  /**
   * The end of the part of the window these events cover: the window's end, or earlier when
   * `maxEvents` stopped the query (the rest of the window is a later sub-window's).
   */
  coveredUntil: Date;
  /** Requests made, including the ones a partial result caused. */
  requests: number;
  /** How many times a partial result made the window split. */
  splits: number;
  /** What Log Analytics read, from its statistics; undefined when it returned none. */
  scanned: DataScanned | undefined;
}

/** What Log Analytics read to answer, summed over requests (its query statistics). */
export interface DataScanned {
  /** Rows of the source tables the engine read. */
  rows: number;
  /** Extents (storage shards, about a day of a table each) it read. */
  extents: number;
}

function count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * The data a response's statistics say the query read: statistics.query.inputDatasetStatistics
 * {rows, extents}.scanned (Prefer: include-statistics=true; shape as in the Log Analytics API
 * examples on Microsoft Learn). Undefined when absent: statistics are diagnostics, never a reason
 * to fail a run.
 */
export function dataScanned(statistics: unknown): DataScanned | undefined {
  const input = (statistics as { query?: { inputDatasetStatistics?: unknown } } | undefined)?.query
    ?.inputDatasetStatistics as
    { rows?: { scanned?: unknown }; extents?: { scanned?: unknown } } | undefined;
  const rows = count(input?.rows?.scanned);
  const extents = count(input?.extents?.scanned);
  return rows === undefined && extents === undefined
    ? undefined
    : { rows: rows ?? 0, extents: extents ?? 0 };
}

/** Sums two readings; undefined only when neither has one. */
export function addScanned(
  a: DataScanned | undefined,
  b: DataScanned | undefined,
): DataScanned | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return { rows: a.rows + b.rows, extents: a.extents + b.extents };
}

export interface DetectionQuery {
  client: LogsQueryClient;
  workspaceId: string;
  kql: string;
  /** What the rule's rows hold (default: nbtscan's). */
  rows?: RowSpec;
  timeoutMs: number;
  /** The client's view of the run's time left (createQueryClient's `timeLeft`), set per call. */
  timeLeft?: QueryTimeLeft;
}

/**
 * How long the current run still gives its queries, retries and backoff included: the retry
 * policy starts no retry, and cuts no attempt's timeout, past it. queryDetection sets it for the
 * duration of one call; with none set, only the per-attempt timeout and retry count bound a query.
 */
export class QueryTimeLeft {
  ms: () => number = () => Infinity;
}

/** The instant a row was ingested, in ms; quarantined rows keep theirs as raw text. */
function ingestedAt(row: { IngestionTime?: unknown }): number {
  return Date.parse(String(row.IngestionTime));
}

/**
 * Where a result cut short by the row limit may end: rows come back oldest-ingested first, so
 * every row ingested before the latest instant returned is in it, and rows at that instant may
 * not all be. Undefined when every row returned shares one instant (no earlier cut exists).
 */
function cutBeforeLatest(
  events: DetectionEvent[],
  quarantined: QuarantinedRow[],
): number | undefined {
  let earliest = Infinity;
  let latest = -Infinity;
  for (const row of [...events, ...quarantined.map((q) => q.row)]) {
    const at = ingestedAt(row);
    if (!Number.isFinite(at)) continue;
    earliest = Math.min(earliest, at);
    latest = Math.max(latest, at);
  }
  return earliest < latest ? latest : undefined;
}

/**
 * Runs the detection over the plan's window. A partial result is never taken as complete: the
 * window is split and each half queried until every piece succeeds. Past `maxEvents` it keeps an
 * ingestion-time prefix of the window and says where it ends (`coveredUntil`).
 */
export async function queryDetection(
  q: DetectionQuery,
  plan: QueryPlan,
  maxEvents = Infinity,
  timeLeftMs?: () => number,
): Promise<QueryOutcome> {
  if (!q.timeLeft || !timeLeftMs) return queryWindows(q, plan, maxEvents);
  q.timeLeft.ms = timeLeftMs;
  try {
    return await queryWindows(q, plan, maxEvents);
  } finally {
    q.timeLeft.ms = () => Infinity;
  }
}

async function queryWindows(
  q: DetectionQuery,
  plan: QueryPlan,
  maxEvents: number,
): Promise<QueryOutcome> {
  const outcome: QueryOutcome = {
    events: [],
    quarantined: [],
    coveredUntil: plan.window.start,
    requests: 0,
    splits: 0,
    scanned: undefined,
  };
  // A window read whole (no room limit) ends the sub-window; see below.
  const pending: (IngestionWindow & { whole?: true })[] = [plan.window];
  // Depth-first, oldest half first, so events come back in ingestion order.
  while (pending.length > 0) {
    const room = maxEvents - outcome.events.length;
    // No room left: the sub-window ends where the last complete piece did.
    if (room <= 0) break;
    const window = pending.shift() as (typeof pending)[number];
    // One row more than there is room for says whether the window holds more.
    const limit = window.whole ? SERVICE_MAX_ROWS : Math.min(SERVICE_MAX_ROWS, room + 1);
    outcome.requests += 1;
    const result = await q.client.queryWorkspace(
      q.workspaceId,
      buildQuery(q.kql, window, limit),
      plan.timespan,
      {
        serverTimeoutInSeconds: Math.min(MAX_SERVER_TIMEOUT_S, Math.ceil(q.timeoutMs / 1000)),
        // What the query read goes into the run summary: the cost of a pass, visible per run.
        includeQueryStatistics: true,
        // This client ignores abortSignal; the request timeout is what bounds a call.
        requestOptions: { timeout: q.timeoutMs },
      },
    );
    outcome.scanned = addScanned(outcome.scanned, dataScanned(result.statistics));
    if (result.status === LogsQueryResultStatus.Success) {
      const reads = result.tables.map((t) => readRows(t, q.rows));
      const events = reads.flatMap((read) => read.events);
      const quarantined = reads.flatMap((read) => read.quarantined);
      // Quarantine rows are keyed, so one the next sub-window reads again is recorded once.
      outcome.quarantined.push(...quarantined);
      if (events.length + quarantined.length < limit || window.whole) {
        for (const event of events) outcome.events.push(event);
        outcome.coveredUntil = window.end;
        if (window.whole) break;
        continue;
      }
      // Cut short by the limit: keep what was ingested before the latest instant returned, and
      // end the sub-window there; the rest of the window is a later sub-window's.
      const cut = cutBeforeLatest(events, quarantined);
      if (cut === undefined) {
        // Every row returned shares one instant, the window's first, and a sub-window cannot end
        // inside one: the sub-window is that instant, read whole (or, should the rows carry no
        // ingestion time, the window read whole). Pieces still pending are a later sub-window's.
        const at = ingestedAt(events[0] ?? quarantined[0].row);
        const whole = Number.isFinite(at) ? { start: new Date(at), end: new Date(at + 1) } : window;
        pending.splice(0, pending.length, { ...whole, whole: true });
        continue;
      }
      for (const event of events) if (ingestedAt(event) < cut) outcome.events.push(event);
      outcome.coveredUntil = new Date(cut);
      break;
    }
    const detail = `${result.partialError.code ?? "PartialError"}: ${result.partialError.message ?? ""}`;
    if (window.end.getTime() - window.start.getTime() <= MIN_SPLIT_WINDOW_MS) {
      throw new PartialResultError(window, detail);
    }
    outcome.splits += 1;
    pending.unshift(...splitWindow(window));
  }
  return outcome;
}
