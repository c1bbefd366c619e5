// The query client as a run builds it, against the Log Analytics stand-in: what it retries within
// the run, and what it says when the service's answer is broken.
import { Agent } from "node:https";
import { LocalStandinCredential } from "../../functions/azure/credentials";
import { loadDetectionRule } from "../../functions/detection/rule";
import {
  createQueryClient,
  queryDetection,
  QueryTimeLeft,
} from "../../functions/query/detectionQuery";
import { SERVICE_MAX_ROWS } from "../../functions/query/buildQuery";
import { ResultShapeError } from "../../functions/query/rows";
import type { QueryPlan } from "../../functions/query/window";
import {
  startLogAnalyticsStandin,
  type LogAnalyticsStandin,
} from "../../sandbox/logAnalyticsStandin";
import { createLoopbackCertificate, type LoopbackCertificate } from "../../sandbox/tls";
import { makeEvent } from "../support/events";

const WORKSPACE_ID = "6a8e4b1c-2d3f-4e5a-9b7c-0d1e2f3a4b5c";
const plan: QueryPlan = {
  pass: "routine",
  window: { start: new Date("2026-11-25T08:00:00Z"), end: new Date("2026-11-25T09:00:00Z") },
  timespan: {
    startTime: new Date("2026-11-18T09:02:00Z"),
    endTime: new Date("2026-11-26T09:02:00Z"),
  },
  coverageGap: false,
};
const event = makeEvent({
  TimeGenerated: "2026-11-25T08:05:00Z",
  Timestamp: "2026-11-25T08:05:00Z",
  IngestionTime: "2026-11-25T08:07:00Z",
});

let tls: LoopbackCertificate;
let agent: Agent;
let la: LogAnalyticsStandin;

beforeAll(async () => {
  tls = await createLoopbackCertificate();
  agent = new Agent({ ca: tls.cert });
  // The stand-in's first query loads Kusto.Language: pay that once, outside the tests.
  la = await startLogAnalyticsStandin({ workspaceId: WORKSPACE_ID, tls });
  await query();
  await la.close();
});
beforeEach(async () => {
  la = await startLogAnalyticsStandin({ workspaceId: WORKSPACE_ID, tls, events: [event] });
});
afterEach(() => la.close());
afterAll(() => agent.destroy());

function query(timeoutMs = 30_000, runTimeLeftMs?: number, maxEvents = Infinity) {
  const timeLeft = new QueryTimeLeft();
  const client = createQueryClient(new LocalStandinCredential(), {
    endpoint: new URL(la.url),
    timeoutMs,
    maxRetryAfterMs: 100,
    retryDelayMs: 10,
    agent,
    timeLeft,
  });
  const rule = loadDetectionRule();
  const deadline = Date.now() + (runTimeLeftMs ?? Infinity);
  return queryDetection(
    { client, workspaceId: WORKSPACE_ID, kql: rule.query, timeoutMs, timeLeft },
    plan,
    maxEvents,
    runTimeLeftMs === undefined ? undefined : () => deadline - Date.now(),
  );
}

describe("queryDetection's client", () => {
  it("retries a 429 that gives no Retry-After, within the run", async () => {
    la.enqueueFault({
      status: 429,
      times: 2,
      body: { error: { code: "Throttled", message: "x" } },
    });
    const outcome = await query();
    expect(outcome.events).toHaveLength(1);
    expect(la.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it("retries a request that timed out, within the run", async () => {
    la.enqueueFault({ status: 200, hang: true });
    const outcome = await query(1500);
    expect(outcome.events).toHaveLength(1);
    // The hung request, then (a loaded machine may time out once more) an answered one.
    expect(la.requests[0]).toMatchObject({ fault: true });
    expect(la.requests.at(-1)).toMatchObject({ status: 200, rowCount: 1 });
  });

  it("stops retrying, and cuts an attempt short, when the run's time is up", async () => {
    la.enqueueFault({ status: 200, hang: true });
    // A 30-second attempt timeout, but the run has 500 ms left: the hung attempt ends then, and
    // no retry starts after it.
    const failure = await query(30_000, 500).catch((error: unknown) => error);
    expect((failure as Error).message).toMatch(/timed out: no response within \d+ ms/);
    expect(la.requests).toHaveLength(1);
  });

  it.each([
    ["an empty body", "", /answered HTTP 200 with an empty body, not a query result/],
    ["{}", "{}", /answered HTTP 200 without a 'tables' array/],
    ["text", "<html>", /answered HTTP 200 with a body that is not JSON/],
    [
      "a table without rows",
      '{"tables":[{"name":"PrimaryResult","columns":[]}]}',
      /with table 0 lacking a 'columns' or 'rows' array/,
    ],
  ])("names what is wrong with a 200 answer holding %s", async (_, rawBody, message) => {
    la.enqueueFault({ status: 200, rawBody });
    const failure = await query().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ResultShapeError);
    expect((failure as Error).message).toMatch(message);
    expect(la.requests).toHaveLength(1);
  });
});

describe("a query capped at maxEvents", () => {
  /** `count` events on one device, ingested `perInstant` at a time a second apart from 08:10. */
  async function serve(count: number, perInstant: number) {
    await la.close();
    const events = Array.from({ length: count }, (_, i) => {
      const at = new Date(Date.parse("2026-11-25T08:10:00Z") + Math.floor(i / perInstant) * 1000);
      return makeEvent({
        ReportId: String(i),
        TimeGenerated: "2026-11-25T08:05:00Z",
        Timestamp: "2026-11-25T08:05:00Z",
        IngestionTime: at.toISOString(),
      });
    });
    la = await startLogAnalyticsStandin({ workspaceId: WORKSPACE_ID, tls, events });
    return events;
  }
  const detections = () => la.requests.filter((r) => r.windowStart !== undefined);

  it("asks for one row more than it has room for, and ends the sub-window before the latest instant returned", async () => {
    const events = await serve(10, 2);
    const outcome = await query(30_000, undefined, 5);
    expect(detections().map((r) => [r.maxRows, r.rowCount])).toEqual([[6, 6]]);
    // Rows 0-5 came back; 4 and 5 share the latest instant, and the rest of it may be missing.
    expect(outcome.events.map((e) => e.ReportId)).toEqual(["0", "1", "2", "3"]);
    expect(outcome.coveredUntil.toISOString()).toBe(events[4].IngestionTime);
  });

  it("takes the whole window when it holds no more than the room", async () => {
    await serve(5, 1);
    const outcome = await query(30_000, undefined, 5);
    expect(outcome.events).toHaveLength(5);
    expect(outcome.coveredUntil).toEqual(plan.window.end);
    expect(detections()).toHaveLength(1);
  });

  it("reads an instant holding more than the room whole, and ends the sub-window after it", async () => {
    const events = await serve(8, 8);
    const outcome = await query(30_000, undefined, 5);
    const at = Date.parse(events[0].IngestionTime);
    expect(outcome.events.map((e) => e.ReportId).sort()).toEqual(
      events.map((e) => e.ReportId).sort(),
    );
    expect(outcome.coveredUntil.getTime()).toBe(at + 1);
    expect(detections().map((r) => [r.windowStart, r.rowCount])).toEqual([
      [plan.window.start.toISOString(), 6],
      [new Date(at).toISOString(), 8],
    ]);
  });

  it("without a cap, asks for the service's own limit", async () => {
    await serve(3, 1);
    await query();
    expect(detections().map((r) => r.maxRows)).toEqual([SERVICE_MAX_ROWS]);
  });
});
