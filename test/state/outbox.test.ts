import type { TableClient } from "@azure/data-tables";
import { detectionKey } from "../../functions/state/detectionKey";
import { scopedLayout } from "../../functions/state/layout";
import { Outbox, type OutboxRecord } from "../../functions/state/outbox";
import { outboxRow as outbox, useStateTables } from "../support/stateTable";

const tables = useStateTables();
const { requests } = tables;
let table: TableClient;
let store: Outbox;

beforeEach(async () => {
  table = tables.table();
  await table.createTable();
  store = new Outbox(table, scopedLayout(detectionKey("rule-1", "workspace-1")));
  requests.length = 0;
});

async function pending(): Promise<OutboxRecord[]> {
  const all: OutboxRecord[] = [];
  for await (const page of store.pendingPages()) all.push(...page);
  return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

const delivered = (id: string) => ({
  incidentId: id,
  status: "delivered" as const,
  attempts: 1,
  runId: "run-1",
  createdAt: "2026-11-25T10:00:00Z",
});

describe("the outbox against Azurite", () => {
  it("cuts outbox transactions by size too: a 4 MiB request body is the service's limit", async () => {
    const large = Array.from({ length: 80 }, (_, i) =>
      outbox(`i${i}`, "2026-11-25T10:00:00Z", "x".repeat(60_000)),
    );
    await store.record(large);
    expect(requests.length).toBeGreaterThan(1);
    expect(await pending()).toHaveLength(80);
  });

  it("keeps an incident larger than one string property, split and joined back exactly", async () => {
    const big = "é🛰".repeat(40_000);
    await store.record([outbox("b", "2026-11-25T10:00:00Z", big)]);
    const [row] = await pending();
    expect(row.incident.description).toBe(big);
  });

  it("forgets a delivered incident (the log keeps it) and keeps a retried one pending", async () => {
    await store.record([
      outbox("late", "2026-11-25T10:05:00Z"),
      outbox("early", "2026-11-25T10:00:00Z"),
    ]);
    expect((await pending()).map((o) => o.incidentId)).toEqual(["early", "late"]);
    const at = new Date("2026-11-25T10:06:00Z");
    await store.markDeliveries([delivered("early")], at);
    await store.markDeliveries(
      [{ incidentId: "late", status: "pending", attempts: 1, lastError: "HTTP 503" }],
      at,
    );
    expect(await pending()).toEqual([
      expect.objectContaining({ incidentId: "late", attempts: 1, lastError: "HTTP 503" }),
    ]);
    expect(await store.all()).toContainEqual(
      expect.objectContaining({
        incidentId: "early",
        status: "delivered",
        deliveredAt: at.toISOString(),
      }),
    );
  });

  it("a delivery mark for a row already gone (a retried transaction) does not fail the others", async () => {
    await store.record([outbox("a", "2026-11-25T10:00:00Z"), outbox("b", "2026-11-25T10:00:00Z")]);
    await store.markDeliveries([delivered("a")], new Date("2026-11-25T10:06:00Z"));
    await store.markDeliveries([delivered("a"), delivered("b")], new Date("2026-11-25T10:07:00Z"));
    expect(await pending()).toEqual([]);
    expect((await store.all()).map((o) => o.incidentId).sort()).toEqual(["a", "a", "b"]);
  });

  it("prunes delivery-log rows older than the cutoff, not the undelivered rows", async () => {
    await store.record([outbox("a", "2026-11-25T10:00:00Z"), outbox("b", "2026-11-25T10:00:00Z")]);
    await store.markDeliveries([delivered("a")], new Date("2026-11-20T00:00:00Z"));
    const pruned = await store.pruneLog(new Date("2026-11-21T00:00:00Z"), () => false);
    expect(pruned).toEqual({ deleted: 1, complete: true });
    expect((await store.all()).map((o) => o.incidentId)).toEqual(["b"]);
  });
});
