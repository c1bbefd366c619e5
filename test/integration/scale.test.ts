// Cost that follows the work (issue 10 goals 1-3): table requests against the formula, dedupe
// that does not grow with the ledger, sub-windows past MAX_HITS_PER_RUN, retention.
import type { IncidentRecord } from "../../functions/incidents/payload";
import type { DetectionEvent } from "../../functions/model";
import type { LedgerRecord } from "../../functions/state/stateStore";
import { makeEvent } from "../support/events";
import { eventKey } from "../../functions/enrich/enrich";
import { useSandboxes, MINUTE, type Sandbox, type SandboxOptions } from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const DAY = 24 * 60 * MINUTE;

/**
 * `count` hits on `devices` devices, generated over `days` days before START (spread evenly) and
 * ingested in the half hour before it.
 */
function backlog(count: number, devices: number, days: number, batch: number): DetectionEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const generated = new Date(START.getTime() - 31 * MINUTE - (i * days * DAY) / count);
    return makeEvent({
      DeviceName: `dev-${i % devices}.contoso.local`,
      DeviceId: String(i % devices).padStart(40, "0"),
      ReportId: String(batch * 1_000_000 + i),
      TimeGenerated: generated.toISOString(),
      Timestamp: generated.toISOString(),
      IngestionTime: new Date(START.getTime() - 30 * MINUTE + i * 100).toISOString(),
    });
  });
}

/** ⌈n/100⌉ + 2·⌈I/100⌉ + d + 10: the bound for n new hits in I incidents over d days. */
function allowedRequests(n: number, incidents: number, days: number): number {
  return Math.ceil(n / 100) + 2 * Math.ceil(incidents / 100) + days + 10;
}

const sandboxes = useSandboxes(START);
const sandbox = (options?: SandboxOptions): Promise<Sandbox> => sandboxes.create(options);

describe("table requests follow the work", () => {
  it.each([
    ["device", 400, 8, 3],
    ["event", 200, 200, 1],
  ])(
    "%s grouping, %i new hits: within ⌈n/100⌉ + 2·⌈I/100⌉ + d + 10",
    async (grouping, count, devices, days) => {
      const events = backlog(count, devices, days, 1);
      const s = await sandbox({ events, env: { INCIDENT_GROUPING: grouping } });
      // The deployment created the table (infra/), as it does in Azure.
      await s.state.ensureTable();
      const { summary, tableRequests } = await s.run();

      expect(summary).toMatchObject({ new: count, delivered: summary.incidents });
      const utcDays = new Set(events.map((e) => e.Timestamp.slice(0, 10))).size;
      const allowed = allowedRequests(count, summary.incidents as number, utcDays);
      expect(tableRequests.length).toBeLessThanOrEqual(allowed);
      // Delivery marks are transactions, never one request per incident.
      expect(
        tableRequests.filter((r) => r.includes(`PartitionKey='${s.state.layout.outbox}'`)),
      ).toEqual([]);
    },
  );

  it("100 new hits cost the same requests over a ledger of 5,000 rows as over an empty one", async () => {
    const fresh = backlog(100, 5, 1, 2);
    const empty = await sandbox({ events: fresh });
    const baseline = (await empty.run()).tableRequests.length;

    const full = await sandbox({ events: fresh });
    await full.state.ensureTable();
    // What a week of earlier hits left in the ledger.
    const history: LedgerRecord[] = backlog(5000, 50, 7, 3).map((e) => ({
      eventKey: eventKey(e),
      timestamp: e.Timestamp,
      deviceName: e.DeviceName,
      runId: "earlier",
      disposition: "incident",
      incidentId: "00000000-0000-5000-8000-000000000000",
    }));
    await full.state.record([], history);
    const { summary, tableRequests } = await full.run();

    expect(summary).toMatchObject({ new: 100, duplicates: 0 });
    expect(tableRequests.length).toBeLessThanOrEqual(baseline * 1.2);
  });
});

describe("a backlog larger than MAX_HITS_PER_RUN", () => {
  it("is taken in ingestion-time sub-windows, the watermark moving through them, each hit once", async () => {
    const s = await sandbox({
      events: backlog(1500, 10, 0.5, 4),
      env: { MAX_HITS_PER_RUN: "1000" },
    });
    const first = await s.run();
    // One query: the cap cuts the result at an ingestion instant, nothing is asked twice.
    expect(first.summary).toMatchObject({ backlog: true, new: 1000, requests: 1 });
    const watermark = (await s.state.readWatermark()).value;
    expect(watermark?.getTime()).toBeLessThan(
      new Date(first.summary.windowEnd as string).getTime(),
    );

    s.advance(5 * MINUTE);
    const second = await s.run();
    expect(second.summary.backlog).toBe(false);
    expect((first.summary.new as number) + (second.summary.new as number)).toBe(1500);
    const keys = s.delivered().flatMap((i) => i.events.map((e) => e.eventKey));
    expect(new Set(keys).size).toBe(1500);
    expect(keys).toHaveLength(1500);
  });
});

describe("a backlog larger than one sub-window, with slow queries", () => {
  it("takes another sub-window while one like the last still fits, and ends within RUN_BUDGET", async () => {
    // 12,000 hits: a full sub-window (10,000) and part of a second; days apart, so that the
    // emulator's ledger partitions stay small. Each query takes 3 of the budget's 8 minutes.
    const count = 12_000;
    const s = await sandbox({
      events: backlog(count, 400, 25, 5),
      env: { LOOKBACK: "P30D" },
      queryCostMs: 3 * MINUTE,
    });
    const startedAt = s.now.getTime();
    const { summary } = await s.run();

    expect(s.now.getTime() - startedAt).toBeLessThanOrEqual(8 * MINUTE);
    expect(summary).toMatchObject({ subWindows: 2, backlog: false, new: count });
    const keys = s.delivered().flatMap((i) => i.events.map((e) => e.eventKey));
    expect(new Set(keys).size).toBe(count);
    expect(keys).toHaveLength(count);
    // 12,000 rows through the local KQL engine per sub-window query, on two shared cores: more
    // than the default minute when the machine is busy. The run's own budget is the assertion.
  }, 180_000);
});

describe("retention", () => {
  it("deletes ledger days older than LOOKBACK + 1 day, old delivery-log and quarantined rows, keeps the rest", async () => {
    const s = await sandbox({ events: [] });
    await s.state.ensureTable();
    const row = (daysAgo: number, i: number): LedgerRecord => ({
      eventKey: `k-${daysAgo}-${i}`,
      timestamp: new Date(START.getTime() - daysAgo * DAY).toISOString(),
      deviceName: "h",
      runId: "earlier",
      disposition: "suppressed",
      exclusion: "x",
    });
    // LOOKBACK is P7D: days 9 and 10 back are past it and the spare day, days 0 and 7 are kept.
    const ages = [0, 7, 9, 10];
    await s.state.record(
      [],
      ages.flatMap((age) => Array.from({ length: 150 }, (_, i) => row(age, i))),
    );
    for (const [incidentId, deliveredDaysAgo] of [
      ["old", 40],
      ["recent", 1],
    ] as const) {
      const incident = {
        incidentId,
        incident: { incidentId, events: [] } as unknown as IncidentRecord,
        runId: "r",
        createdAt: "2026-10-01T00:00:00.000Z",
        status: "pending" as const,
        attempts: 0,
      };
      await s.state.record([incident], []);
      await s.state.markDelivery(
        { incidentId, status: "delivered", attempts: 1, runId: "r", createdAt: incident.createdAt },
        new Date(START.getTime() - deliveredDaysAgo * DAY),
      );
    }

    for (const [reason, recordedDaysAgo] of [
      ["old poison", 40],
      ["recent poison", 1],
    ] as const) {
      await s.state.recordQuarantine(
        [{ reason, row: { DeviceName: reason } }],
        "earlier",
        new Date(START.getTime() - recordedDaysAgo * DAY),
      );
    }

    // Retention last ran two hours ago; it runs about hourly.
    await s.table.createEntity({
      partitionKey: s.state.layout.lease.partition,
      rowKey: s.state.layout.lease.row,
      Owner: "earlier",
      Mode: "routine",
      ExpiresAt: new Date(START.getTime() - 2 * 60 * MINUTE).toISOString(),
      Released: true,
      RetainedAt: new Date(START.getTime() - 2 * 60 * MINUTE).toISOString(),
    });
    const { summary } = await s.run();
    expect(summary).toMatchObject({
      retentionLedgerRows: 300,
      retentionDeliveryLogRows: 1,
      retentionQuarantineRows: 1,
    });
    expect((await s.state.allQuarantine()).map((q) => q.reason)).toEqual(["recent poison"]);
    for (const [age, kept] of [
      [0, 150],
      [7, 150],
      [9, 0],
      [10, 0],
    ]) {
      expect(await s.state.ledgerOfDay(row(age, 0).timestamp)).toHaveLength(kept);
    }
    // Within the hour it does not look again: a row past retention stays until it does.
    await s.state.record([], [row(10, 1)]);
    s.advance(5 * MINUTE);
    expect((await s.run()).summary).toMatchObject({ retentionLedgerRows: 0 });
    expect(await s.state.ledgerOfDay(row(10, 1).timestamp)).toHaveLength(1);
    s.advance(60 * MINUTE);
    expect((await s.run()).summary).toMatchObject({ retentionLedgerRows: 1 });
    expect((await s.state.allOutbox()).map((o) => o.incidentId)).toEqual(["recent"]);
  });
});
