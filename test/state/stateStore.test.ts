import { randomUUID } from "node:crypto";
import { TableClient } from "@azure/data-tables";
import type { IncidentRecord } from "../../functions/incidents/payload";
import {
  StateStore,
  WatermarkConflictError,
  type LedgerRecord,
  type OutboxRecord,
} from "../../functions/state/stateStore";
import { detectionKey } from "../../functions/state/detectionKey";
import { startAzuriteTable, type AzuriteTable } from "../../sandbox/azurite";

const KEY = detectionKey("rule-1", "workspace-1");
let azurite: AzuriteTable;
let table: TableClient;
let store: StateStore;
const requests: string[] = [];

beforeAll(async () => {
  azurite = await startAzuriteTable();
});
afterAll(() => azurite.stop());

beforeEach(async () => {
  requests.length = 0;
  table = TableClient.fromConnectionString(
    azurite.connectionString,
    `s${randomUUID().slice(0, 8)}`,
    {
      allowInsecureConnection: true,
      // Counts the HTTP requests the store makes.
      additionalPolicies: [
        {
          position: "perCall",
          policy: {
            name: "count",
            sendRequest: (req, next) => (
              requests.push(`${req.method} ${new URL(req.url).pathname}`),
              next(req)
            ),
          },
        },
      ],
    },
  );
  store = new StateStore(table, KEY);
  await store.ensureTable();
  requests.length = 0;
});

function ledger(i: number, day = "2026-11-25"): LedgerRecord {
  return {
    eventKey: `DeviceProcessEvents|host/${i}|${day}T08:00:00.000Z|${i}`,
    timestamp: `${day}T08:00:00.000Z`,
    deviceName: `host/${i}`,
    runId: "run-1",
    disposition: "incident",
    incidentId: "00000000-0000-5000-8000-000000000001",
  };
}

function outbox(id: string, createdAt: string, description = "d"): OutboxRecord {
  return {
    incidentId: id,
    incident: { incidentId: id, description, events: [] } as unknown as IncidentRecord,
    runId: "run-1",
    createdAt,
    status: "pending",
    attempts: 0,
  };
}

describe("StateStore against Azurite", () => {
  it("creating the table twice is harmless", async () => {
    await expect(store.ensureTable()).resolves.toBeUndefined();
  });

  it("advances the watermark, and refuses a second writer holding a stale ETag", async () => {
    const first = await store.readWatermark();
    expect(first).toEqual({ value: undefined, etag: undefined });
    await store.advanceWatermark(new Date("2026-11-25T10:00:00Z"), first);
    // A concurrent run that read before the first one wrote:
    await expect(store.advanceWatermark(new Date("2026-11-25T10:05:00Z"), first)).rejects.toThrow(
      WatermarkConflictError,
    );

    const second = await store.readWatermark();
    expect(second.value?.toISOString()).toBe("2026-11-25T10:00:00.000Z");
    await store.advanceWatermark(new Date("2026-11-25T10:05:00Z"), second);
    await expect(store.advanceWatermark(new Date("2026-11-25T10:10:00Z"), second)).rejects.toThrow(
      WatermarkConflictError,
    );
    expect((await store.readWatermark()).value?.toISOString()).toBe("2026-11-25T10:05:00.000Z");
  });

  it("writes in transactions of at most 100 per partition, never one request per row", async () => {
    const rows = [...Array.from({ length: 250 }, (_, i) => ledger(i)), ledger(999, "2026-11-24")];
    await store.record([], rows);
    // 100 + 100 + 50 for one day, 1 for the other: four $batch requests.
    expect(requests).toHaveLength(4);
    expect(requests.every((r) => r.endsWith("/$batch"))).toBe(true);
  });

  it("cuts outbox transactions by size too: a 4 MiB request body is the service's limit", async () => {
    const large = Array.from({ length: 80 }, (_, i) =>
      outbox(`i${i}`, "2026-11-25T10:00:00Z", "x".repeat(60_000)),
    );
    await store.record(large, []);
    expect(requests.length).toBeGreaterThan(1);
    expect(await store.pendingOutbox()).toHaveLength(80);
  });

  it("finds seen keys with one query per day, whatever characters the key holds", async () => {
    await store.record([], [ledger(1), ledger(2, "2026-11-24")]);
    requests.length = 0;
    const asked = [ledger(1), ledger(2, "2026-11-24"), ledger(3)].map((l) => ({
      eventKey: l.eventKey,
      timestamp: l.timestamp,
    }));
    const seen = await store.seenEventKeys(asked);
    expect([...seen].sort()).toEqual([ledger(1).eventKey, ledger(2, "2026-11-24").eventKey].sort());
    expect(requests).toHaveLength(2);
  });

  it("keeps an incident larger than one string property, split and joined back exactly", async () => {
    const big = "é🛰".repeat(40_000);
    await store.record([outbox("b", "2026-11-25T10:00:00Z", big)], []);
    const [row] = await store.pendingOutbox();
    expect(row.incident.description).toBe(big);
  });

  it("lists pending incidents oldest first and forgets them once delivered", async () => {
    await store.record(
      [outbox("late", "2026-11-25T10:05:00Z"), outbox("early", "2026-11-25T10:00:00Z")],
      [],
    );
    expect((await store.pendingOutbox()).map((o) => o.incidentId)).toEqual(["early", "late"]);
    await store.markDelivery({
      incidentId: "early",
      status: "delivered",
      attempts: 1,
      runId: "run-1",
      createdAt: "2026-11-25T10:00:00Z",
    });
    await store.markDelivery({
      incidentId: "late",
      status: "pending",
      attempts: 1,
      lastError: "HTTP 503",
    });
    const pending = await store.pendingOutbox();
    expect(pending).toEqual([
      expect.objectContaining({ incidentId: "late", attempts: 1, lastError: "HTTP 503" }),
    ]);
  });

  it("repairs the ledger from pending incidents, as after a crash between the two writes", async () => {
    const incident = outbox("i", "2026-11-25T10:00:00Z");
    incident.incident.events = [
      {
        eventKey: "DeviceFileEvents|h|2026-11-23T01:00:00.000Z|7",
        Timestamp: "2026-11-23T01:00:00.000Z",
        DeviceName: "h",
      },
    ] as IncidentRecord["events"];
    await store.repairLedger([incident]);
    expect(await store.ledgerOfDay("2026-11-23T01:00:00.000Z")).toEqual([
      expect.objectContaining({
        eventKey: "DeviceFileEvents|h|2026-11-23T01:00:00.000Z|7",
        incidentId: "i",
        disposition: "incident",
      }),
    ]);
  });

  it("reports nothing seen, rather than failing, before the table exists (a first dry run)", async () => {
    const missing = new StateStore(
      TableClient.fromConnectionString(azurite.connectionString, "neverCreated", {
        allowInsecureConnection: true,
      }),
      KEY,
    );
    await expect(
      missing.seenEventKeys([{ eventKey: "k", timestamp: "2026-11-25T00:00:00Z" }]),
    ).resolves.toEqual(new Set());
    await expect(missing.readWatermark()).resolves.toEqual({ value: undefined, etag: undefined });
  });
});

describe("StateStore costs that follow the work", () => {
  const asked = (rows: LedgerRecord[]): { eventKey: string; timestamp: string }[] =>
    rows.map((l) => ({ eventKey: l.eventKey, timestamp: l.timestamp }));

  it("checks 1,000 new keys over several days against an empty ledger in one request", async () => {
    const days = ["2026-11-23", "2026-11-24", "2026-11-25"];
    const rows = Array.from({ length: 1000 }, (_, i) => ledger(i, days[i % 3]));
    expect(await store.seenEventKeys(asked(rows))).toEqual(new Set());
    expect(requests).toHaveLength(1);
  });

  it("finds every seen key among many, the ledger dense around them, in no more requests than lookups", async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ledger(i));
    await store.record([], rows);
    requests.length = 0;
    const question = [...rows.filter((_, i) => i % 100 === 0), ledger(5000), ledger(5001)];
    const seen = await store.seenEventKeys(asked(question));
    expect(seen.size).toBe(30);
    expect(seen.has(ledger(5000).eventKey)).toBe(false);
    // A range read capped at the lookups' cost, then lookups for what it did not reach.
    expect(requests.length).toBeLessThanOrEqual(2 * Math.ceil(question.length / 14));
  });

  it("a delivery mark for a row already gone (a retried transaction) does not fail the others", async () => {
    await store.record(
      [outbox("a", "2026-11-25T10:00:00Z"), outbox("b", "2026-11-25T10:00:00Z")],
      [],
    );
    const delivered = (id: string) => ({
      incidentId: id,
      status: "delivered" as const,
      attempts: 1,
      runId: "run-1",
      createdAt: "2026-11-25T10:00:00Z",
    });
    await store.markDelivery(delivered("a"));
    await store.markDeliveries([delivered("a"), delivered("b")]);
    expect(await store.pendingOutbox()).toEqual([]);
    expect((await store.allOutbox()).map((o) => o.incidentId).sort()).toEqual(["a", "a", "b"]);
  });
});
