import { Agent } from "node:https";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";
import type { TokenCredential } from "@azure/core-auth";
import { RestError } from "@azure/core-rest-pipeline";
import { LocalStandinCredential } from "../../functions/azure/credentials";
import { loadDetectionRule } from "../../functions/detection/rule";
import { buildQuery } from "../../functions/query/buildQuery";
import { planQuery } from "../../functions/query/window";
import { EVENT_COLUMNS, type DetectionEvent } from "../../functions/model";
import {
  startLogAnalyticsStandin,
  type LogAnalyticsStandin,
  type LogAnalyticsStandinOptions,
} from "../../sandbox/logAnalyticsStandin";
import { createLoopbackCertificate, type LoopbackCertificate } from "../../sandbox/tls";
import { postJson, staticCredential, type HttpReply } from "./fixtures";
import { KNOWN_SHA1, makeEvent } from "../support/events";

const WORKSPACE_ID = "6a8e4b1c-2d3f-4e5a-9b7c-0d1e2f3a4b5c";
const rule = loadDetectionRule();
// What a run at 09:02 sends after a watermark at 08:00 (default 7-day lookback, 2-minute settle):
// ingestion window [08:00, 09:00), and a timespan from 7 days before the run to a day after it.
const plan = planQuery({
  watermark: new Date("2026-11-25T08:00:00Z"),
  now: new Date("2026-11-25T09:02:00Z"),
  lookbackMs: 7 * 24 * 60 * 60 * 1000,
  settleMs: 2 * 60 * 1000,
});
if (!plan) throw new Error("a run two minutes past its window's end has a window");
const { window, timespan } = plan;
const timespanText = `${timespan.startTime.toISOString()}/${timespan.endTime.toISOString()}`;
const query = buildQuery(rule.query, window);

const inWindow = makeEvent({
  ReportId: "101",
  TimeGenerated: "2026-11-25T08:05:00.1234567Z",
  Timestamp: "2026-11-25T08:05:00.1234567Z",
  IngestionTime: "2026-11-25T08:07:30.000Z",
});
const ingestedBefore = makeEvent({
  ReportId: "102",
  TimeGenerated: "2026-11-25T07:50:00Z",
  IngestionTime: "2026-11-25T07:59:59.999Z",
});
const ingestedAtEnd = makeEvent({
  ReportId: "103",
  TimeGenerated: "2026-11-25T08:58:00Z",
  IngestionTime: "2026-11-25T09:00:00.000Z",
});
// Generated three days before it arrived: found by ingestion time, still inside the timespan.
const lateInsideLookback = makeEvent({
  ReportId: "104",
  SourceTable: "DeviceFileEvents",
  ActionType: "FileCreated",
  ProcessCommandLine: "",
  TimeGenerated: "2026-11-22T08:30:00Z",
  IngestionTime: "2026-11-25T08:45:00Z",
});
// Ingested in the window but generated before the timespan: the service never shows it.
const lateBeyondLookback = makeEvent({
  ReportId: "105",
  TimeGenerated: "2026-11-10T12:00:00Z",
  IngestionTime: "2026-11-25T08:50:00Z",
});
const allEvents = [inWindow, ingestedBefore, ingestedAtEnd, lateInsideLookback, lateBeyondLookback];

let tls: LoopbackCertificate;
let agent: Agent;
const running: LogAnalyticsStandin[] = [];

beforeAll(async () => {
  tls = await createLoopbackCertificate();
  agent = new Agent({ ca: tls.cert, keepAlive: true });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

afterAll(() => agent.destroy());

async function standin(
  options: Partial<LogAnalyticsStandinOptions> = {},
): Promise<LogAnalyticsStandin> {
  const s = await startLogAnalyticsStandin({
    workspaceId: WORKSPACE_ID,
    tls,
    events: allEvents,
    ...options,
  });
  running.push(s);
  return s;
}

function client(
  s: LogAnalyticsStandin,
  credential: TokenCredential = new LocalStandinCredential(),
): LogsQueryClient {
  return new LogsQueryClient(credential, {
    endpoint: s.url,
    agent,
    // Keep the exponential back-off for 5xx short; Retry-After still governs 429.
    retryOptions: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 2000 },
  });
}

function reportIds(rows: unknown[][]): string[] {
  const index = EVENT_COLUMNS.indexOf("ReportId");
  return rows.map((r) => String(r[index])).sort();
}

/** Runs the query through the client and returns the RestError it has to fail with. */
async function queryError(
  c: LogsQueryClient,
  kql = query,
  workspaceId = WORKSPACE_ID,
): Promise<RestError> {
  try {
    await c.queryWorkspace(workspaceId, kql, timespan);
  } catch (error) {
    if (error instanceof RestError) return error;
    throw error;
  }
  throw new Error("expected the query to fail");
}

/** POSTs the query with node:https instead of the SDK, to see the JSON on the wire. */
function postQuery(s: LogAnalyticsStandin): Promise<HttpReply> {
  return postJson(
    `${s.url}/workspaces/${WORKSPACE_ID}/query`,
    { query, timespan: timespanText },
    { headers: { Authorization: "Bearer raw" }, agent },
  );
}

describe("Log Analytics stand-in, through the real LogsQueryClient", () => {
  it("serves on 127.0.0.1 over HTTPS at a /v1 endpoint", async () => {
    const s = await standin();
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it("returns the query's columns with typed rows, filtered by ingestion window and timespan", async () => {
    const s = await standin();
    const result = await client(s).queryWorkspace(WORKSPACE_ID, query, timespan);
    if (result.status !== LogsQueryResultStatus.Success) throw new Error("expected Success");
    const [table] = result.tables;
    expect(table.name).toBe("PrimaryResult");
    expect(table.columnDescriptors.map((c) => c.name)).toEqual([...EVENT_COLUMNS]);
    const types = Object.fromEntries(table.columnDescriptors.map((c) => [c.name, c.type]));
    expect(types).toMatchObject({
      SourceTable: "string",
      TimeGenerated: "datetime",
      Timestamp: "datetime",
      IngestionTime: "datetime",
      ReportId: "long",
      SHA1: "string",
    });
    expect(reportIds(table.rows)).toEqual(["101", "104"]);

    const row = table.rows.find((r) => r[EVENT_COLUMNS.indexOf("ReportId")] === 101);
    expect(row).toBeDefined();
    const timeGenerated = row?.[EVENT_COLUMNS.indexOf("TimeGenerated")];
    expect(timeGenerated).toBeInstanceOf(Date);
    expect((timeGenerated as Date).toISOString()).toBe("2026-11-25T08:05:00.123Z");
    expect(row?.[EVENT_COLUMNS.indexOf("FileName")]).toBe("nbtscan.exe");

    expect(s.requests).toHaveLength(1);
    expect(s.requests[0]).toMatchObject({
      method: "POST",
      path: `/v1/workspaces/${WORKSPACE_ID}/query`,
      authorization: true,
      status: 200,
      timespan: timespanText,
      windowStart: window.start.toISOString(),
      windowEnd: window.end.toISOString(),
      rowCount: 2,
      partial: false,
    });
  });

  it("records the Prefer header the client sends for a server timeout", async () => {
    const s = await standin();
    await client(s).queryWorkspace(WORKSPACE_ID, query, timespan, { serverTimeoutInSeconds: 120 });
    expect(s.requests[0].prefer).toBe("wait=120");
  });

  it("reads a bare ISO duration as a timespan ending now", async () => {
    const s = await standin({ now: () => new Date("2026-11-25T09:00:00Z") });
    const result = await client(s).queryWorkspace(WORKSPACE_ID, query, { duration: "PT2H" });
    if (result.status !== LogsQueryResultStatus.Success) throw new Error("expected Success");
    // Only the event generated in the last two hours; the late ones fall outside.
    expect(reportIds(result.tables[0].rows)).toEqual(["101"]);
  });

  it("serves events added after start", async () => {
    const s = await standin({ events: [] });
    const first = await client(s).queryWorkspace(WORKSPACE_ID, query, timespan);
    expect(first.status === LogsQueryResultStatus.Success && first.tables[0].rows).toEqual([]);
    s.addEvents([inWindow]);
    const second = await client(s).queryWorkspace(WORKSPACE_ID, query, timespan);
    expect(
      second.status === LogsQueryResultStatus.Success && reportIds(second.tables[0].rows),
    ).toEqual(["101"]);
  });

  it("sends datetimes with seven fractional digits and ReportId as a JSON number", async () => {
    const s = await standin({ events: [inWindow] });
    const raw = await postQuery(s);
    expect(raw.status).toBe(200);
    const body = raw.body as { tables: { rows: unknown[][] }[] };
    const [row] = body.tables[0].rows;
    expect(row[EVENT_COLUMNS.indexOf("TimeGenerated")]).toBe("2026-11-25T08:05:00.1234567Z");
    expect(row[EVENT_COLUMNS.indexOf("IngestionTime")]).toBe("2026-11-25T08:07:30.0000000Z");
    expect(row[EVENT_COLUMNS.indexOf("ReportId")]).toBe(101);
  });

  it("sends an empty string, not null, for a string column a table lacks", async () => {
    const s = await standin({ events: [lateInsideLookback] });
    const raw = await postQuery(s);
    const body = raw.body as { tables: { rows: unknown[][] }[] };
    expect(body.tables[0].rows[0][EVENT_COLUMNS.indexOf("ProcessCommandLine")]).toBe("");
  });

  it("cuts a result over maxRowsPerResponse and reports PartialFailure", async () => {
    const s = await standin({
      maxRowsPerResponse: 1,
    });
    const result = await client(s).queryWorkspace(WORKSPACE_ID, query, timespan);
    if (result.status !== LogsQueryResultStatus.PartialFailure)
      throw new Error("expected PartialFailure");
    expect(result.partialTables[0].rows).toHaveLength(1);
    expect(result.partialError.code).toBe("PartialError");
    expect(result.partialError.message).toBe("There were some errors when processing your query.");
    expect(s.requests[0]).toMatchObject({
      status: 200,
      partial: true,
      rowCount: 1,
      errorCode: "PartialError",
    });
  });

  it("answers Success when the matches fit maxRowsPerResponse exactly", async () => {
    const s = await standin({ maxRowsPerResponse: 2 });
    const result = await client(s).queryWorkspace(WORKSPACE_ID, query, timespan);
    expect(result.status).toBe(LogsQueryResultStatus.Success);
  });

  it("throttles with 429 + Retry-After; the client waits and retries", async () => {
    const s = await standin();
    s.enqueueFault({ status: 429, headers: { "Retry-After": "1" } });
    const started = Date.now();
    const result = await client(s).queryWorkspace(WORKSPACE_ID, query, timespan);
    const elapsed = Date.now() - started;
    expect(result.status).toBe(LogsQueryResultStatus.Success);
    expect(s.requests.map((r) => [r.status, r.fault])).toEqual([
      [429, true],
      [200, false],
    ]);
    // The SDK honoured Retry-After (1 s) rather than retrying at once.
    expect(elapsed).toBeGreaterThanOrEqual(900);
  });

  it("serves a fault several times, then resumes", async () => {
    const s = await standin();
    s.enqueueFault({ status: 503, times: 2 });
    const result = await client(s).queryWorkspace(WORKSPACE_ID, query, timespan);
    expect(result.status).toBe(LogsQueryResultStatus.Success);
    expect(s.requests.map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it("gives up with the fault's status when faults outlast the client's retries", async () => {
    const s = await standin();
    s.enqueueFault({ status: 500, times: 10 });
    const error = await queryError(client(s));
    expect(error.statusCode).toBe(500);
    expect(s.requests).toHaveLength(4);
  });

  it("rejects a request without a bearer token with 401 AuthenticationFailed", async () => {
    const s = await standin();
    const c = client(s);
    c.pipeline.removePolicy({ name: "bearerTokenAuthenticationPolicy" });
    const error = await queryError(c);
    expect(error.statusCode).toBe(401);
    expect(error.details).toMatchObject({ error: { code: "AuthenticationFailed" } });
    expect(s.requests[0]).toMatchObject({ authorization: false, status: 401 });
  });

  it("rejects an unexpected token with 403 when a token is configured", async () => {
    const s = await standin({ acceptedToken: "the-right-one" });
    const error = await queryError(client(s, staticCredential("a-wrong-one")));
    expect(error.statusCode).toBe(403);
    expect(error.details).toMatchObject({ error: { code: "InvalidAuthenticationToken" } });
    const ok = await client(s, staticCredential("the-right-one")).queryWorkspace(
      WORKSPACE_ID,
      query,
      timespan,
    );
    expect(ok.status).toBe(LogsQueryResultStatus.Success);
  });

  it("answers 404 WorkspaceNotFoundError for another workspace id", async () => {
    const s = await standin();
    const error = await queryError(client(s), query, "00000000-0000-0000-0000-000000000000");
    expect(error.statusCode).toBe(404);
    expect(error.details).toMatchObject({ error: { code: "WorkspaceNotFoundError" } });
  });

  it("answers 400 BadArgumentError/SyntaxError for a query that does not parse", async () => {
    const s = await standin();
    const broken = query.replace("| where FileName", "| where (FileName");
    const error = await queryError(client(s), broken);
    expect(error.statusCode).toBe(400);
    expect(error.details).toMatchObject({
      error: { code: "BadArgumentError", innererror: { code: "SyntaxError" } },
    });
  });

  it("answers 400 SemanticError for a misspelled column", async () => {
    const s = await standin();
    const typo = query.replace("InitiatingProcessParentFileName", "InitiatingProcessParentFileNme");
    const error = await queryError(client(s), typo);
    expect(error.statusCode).toBe(400);
    expect(error.details).toMatchObject({
      error: { code: "BadArgumentError", innererror: { code: "SemanticError" } },
    });
    const detail = (error.details as { error: { innererror: { innererror: { message: string } } } })
      .error.innererror.innererror.message;
    expect(detail).toContain("InitiatingProcessParentFileNme");
  });

  it("answers 400 for an invalid datetime literal in the window", async () => {
    const s = await standin();
    const bad = query.replace(window.start.toISOString(), "2026-13-45T00:00:00Z");
    const error = await queryError(client(s), bad);
    expect(error.statusCode).toBe(400);
    expect(error.details).toMatchObject({ error: { innererror: { code: "SyntaxError" } } });
  });

  it("answers 404 PathNotFoundError off the query path", async () => {
    const s = await standin();
    const raw = await postJson(
      `${s.url}/workspaces`,
      {},
      {
        headers: { Authorization: "Bearer raw" },
        agent,
      },
    );
    expect(raw.status).toBe(404);
    expect(raw.body).toMatchObject({ error: { code: "PathNotFoundError" } });
  });

  it("refuses events whose times are not datetimes", async () => {
    const s = await standin({ events: [] });
    const bad: DetectionEvent = makeEvent({ IngestionTime: "yesterday" });
    expect(() => s.addEvents([bad])).toThrow(/IngestionTime/);
  });

  it("runs the detection's query: lookalikes and other processes in the window are not returned", async () => {
    const at = { TimeGenerated: "2026-11-25T08:10:00Z", IngestionTime: "2026-11-25T08:11:00Z" };
    const s = await standin({
      events: [
        inWindow,
        makeEvent({ ...at, ReportId: "201", FileName: "nbtscan.exe.bak" }),
        makeEvent({ ...at, ReportId: "202", FileName: "nbtstat.exe" }),
        makeEvent({ ...at, ReportId: "203", FileName: "NBTSCAN.EXE" }),
        makeEvent({ ...at, ReportId: "204", FileName: "svc.exe", SHA1: KNOWN_SHA1 }),
      ],
    });
    const result = await client(s).queryWorkspace(WORKSPACE_ID, query, timespan);
    if (result.status !== LogsQueryResultStatus.Success) throw new Error("expected Success");
    expect(reportIds(result.tables[0].rows)).toEqual(["101", "203", "204"]);
    expect(s.requests[0]).toMatchObject({ rowCount: 3, scannedRows: 5 });
  });

  it("serves watchlists to _GetWatchlist('alias') with SearchKey and the item's columns", async () => {
    const s = await standin({
      watchlists: {
        hosts: {
          searchKey: "DeviceName",
          items: [{ DeviceName: "ws-fin-07.contoso.local", Reason: "inventory" }],
          updated: new Date("2026-11-01T00:00:00Z"),
        },
      },
    });
    const kql =
      "_GetWatchlist('hosts') | project _DTItemId, LastUpdatedTimeUTC, SearchKey, Reason, " +
      "Item = tostring(WatchlistItem.Reason)";
    const result = await client(s).queryWorkspace(WORKSPACE_ID, kql, timespan);
    if (result.status !== LogsQueryResultStatus.Success) throw new Error("expected Success");
    const [row] = result.tables[0].rows;
    expect(result.tables[0].rows).toHaveLength(1);
    expect(row[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect((row[1] as Date).toISOString()).toBe("2026-11-01T00:00:00.000Z");
    expect(row.slice(2)).toEqual(["ws-fin-07.contoso.local", "inventory", "inventory"]);

    // The detection excluding the watchlist's hosts: both hits are on the listed host.
    const excluded = `${query}\n| where DeviceName !in ((_GetWatchlist('hosts') | project SearchKey))`;
    const filtered = await client(s).queryWorkspace(WORKSPACE_ID, excluded, timespan);
    if (filtered.status !== LogsQueryResultStatus.Success) throw new Error("expected Success");
    expect(filtered.tables[0].rows).toEqual([]);
    s.setWatchlist("hosts", { searchKey: "DeviceName", items: [{ DeviceName: "other-host" }] });
    const other = await client(s).queryWorkspace(WORKSPACE_ID, excluded, timespan);
    if (other.status !== LogsQueryResultStatus.Success) throw new Error("expected Success");
    expect(reportIds(other.tables[0].rows)).toEqual(["101", "104"]);

    s.setWatchlist("hosts", undefined);
    const none = await client(s).queryWorkspace(WORKSPACE_ID, "_GetWatchlist('hosts')", timespan);
    if (none.status !== LogsQueryResultStatus.Success) throw new Error("expected Success");
    expect(none.tables[0].rows).toEqual([]);
  });

  it("answers 400 naming a construct the local engine does not evaluate", async () => {
    const s = await standin();
    const error = await queryError(
      client(s),
      `${query}\n| mv-expand Hash = pack_array(SHA1, SHA256)`,
    );
    expect(error.statusCode).toBe(400);
    const detail = (error.details as { error: { innererror: { innererror: { message: string } } } })
      .error.innererror.innererror.message;
    expect(detail).toBe("The local KQL engine (sandbox) does not support the 'mv-expand' operator");
  });
});
