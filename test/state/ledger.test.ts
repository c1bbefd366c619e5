import type { TableClient } from "@azure/data-tables";
import type { IncidentRecord } from "../../functions/incidents/payload";
import { detectionKey } from "../../functions/state/detectionKey";
import { scopedLayout } from "../../functions/state/layout";
import { Ledger, ledgerRecordsOf, type LedgerRecord } from "../../functions/state/ledger";
import { ledgerRow as ledger, outboxRow, useStateTables } from "../support/stateTable";

const tables = useStateTables();
const { requests } = tables;
let table: TableClient;
let store: Ledger;

beforeEach(async () => {
  table = tables.table();
  await table.createTable();
  store = new Ledger(table, scopedLayout(detectionKey("rule-1", "workspace-1")));
  requests.length = 0;
});

const asked = (rows: LedgerRecord[]): { eventKey: string; timestamp: string }[] =>
  rows.map((l) => ({ eventKey: l.eventKey, timestamp: l.timestamp }));

describe("the ledger against Azurite", () => {
  it("writes in transactions of at most 100 per partition, never one request per row", async () => {
    const rows = [...Array.from({ length: 250 }, (_, i) => ledger(i)), ledger(999, "2026-11-24")];
    await store.record(rows);
    // 100 + 100 + 50 for one day, 1 for the other: four $batch requests.
    expect(requests).toHaveLength(4);
    expect(requests.every((r) => r.endsWith("/$batch"))).toBe(true);
  });

  it("finds seen keys with one query per day, whatever characters the key holds", async () => {
    await store.record([ledger(1), ledger(2, "2026-11-24")]);
    requests.length = 0;
    const seen = await store.seen(asked([ledger(1), ledger(2, "2026-11-24"), ledger(3)]));
    expect([...seen].sort()).toEqual([ledger(1).eventKey, ledger(2, "2026-11-24").eventKey].sort());
    expect(requests).toHaveLength(2);
  });

  it("keeps the rows an outbox incident stands for, one per event", async () => {
    const incident = outboxRow("i", "2026-11-25T10:00:00Z");
    incident.incident.events = [
      {
        eventKey: "DeviceFileEvents|h|2026-11-23T01:00:00.000Z|7",
        Timestamp: "2026-11-23T01:00:00.000Z",
        DeviceName: "h",
      },
    ] as IncidentRecord["events"];
    await store.record(ledgerRecordsOf(incident));
    expect(await store.ofDay("2026-11-23T01:00:00.000Z")).toEqual([
      expect.objectContaining({
        eventKey: "DeviceFileEvents|h|2026-11-23T01:00:00.000Z|7",
        incidentId: "i",
        disposition: "incident",
      }),
    ]);
  });

  it("deletes the days before the oldest kept, and only those", async () => {
    await store.record([ledger(1, "2026-11-20"), ledger(2, "2026-11-21"), ledger(3, "2026-11-22")]);
    const deleted = await store.deleteDaysBefore(new Date("2026-11-21T12:00:00Z"), () => false);
    expect(deleted).toEqual({ deleted: 1, complete: true });
    expect(await store.ofDay("2026-11-20T00:00:00Z")).toEqual([]);
    expect(await store.ofDay("2026-11-21T00:00:00Z")).toHaveLength(1);
  });
});

describe("ledger costs that follow the work", () => {
  it("checks 1,000 new keys over several days against an empty ledger in one request", async () => {
    const days = ["2026-11-23", "2026-11-24", "2026-11-25"];
    const rows = Array.from({ length: 1000 }, (_, i) => ledger(i, days[i % 3]));
    expect(await store.seen(asked(rows))).toEqual(new Set());
    expect(requests).toHaveLength(1);
  });

  it("finds every seen key among many, the ledger dense around them, in no more requests than lookups", async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ledger(i));
    await store.record(rows);
    requests.length = 0;
    const question = [...rows.filter((_, i) => i % 100 === 0), ledger(5000), ledger(5001)];
    const seen = await store.seen(asked(question));
    expect(seen.size).toBe(30);
    expect(seen.has(ledger(5000).eventKey)).toBe(false);
    // A range read capped at the lookups' cost, then lookups for what it did not reach.
    expect(requests.length).toBeLessThanOrEqual(2 * Math.ceil(question.length / 14));
  });
});
