import { TableClient } from "@azure/data-tables";
import type { IncidentRecord } from "../../functions/incidents/payload";
import { detectionKey } from "../../functions/state/detectionKey";
import { StateStore } from "../../functions/state/stateStore";
import { ledgerRow, outboxRow, useStateTables } from "../support/stateTable";

const tables = useStateTables();
const A = detectionKey("rule-1", "workspace-1");
// The same rule in another workspace, and another rule in the same one: other detections.
const OTHERS = [detectionKey("rule-1", "workspace-2"), detectionKey("rule-2", "workspace-1")];
const NOW = new Date("2026-11-30T12:00:00Z");
const DAY = 24 * 3_600_000;

describe("StateStore, one detection's state in the shared table", () => {
  it("creating the table twice is harmless", async () => {
    const store = new StateStore(tables.table(), A);
    await store.ensureTable();
    await expect(store.ensureTable()).resolves.toBeUndefined();
  });

  it("reports nothing seen, rather than failing, before the table exists (a first dry run)", async () => {
    const missing = new StateStore(
      TableClient.fromConnectionString(tables.azurite().connectionString, "neverCreated", {
        allowInsecureConnection: true,
      }),
      A,
    );
    await expect(
      missing.seenEventKeys([{ eventKey: "k", timestamp: "2026-11-25T00:00:00Z" }]),
    ).resolves.toEqual(new Set());
    await expect(missing.readWatermark()).resolves.toEqual({ value: undefined, etag: undefined });
  });

  it("repairs the ledger from pending incidents, as after a crash between the two writes", async () => {
    const store = new StateStore(tables.table(), A);
    await store.ensureTable();
    const incident = outboxRow("i", "2026-11-25T10:00:00Z");
    incident.incident.events = [
      {
        eventKey: "DeviceFileEvents|h|2026-11-23T01:00:00.000Z|7",
        Timestamp: "2026-11-23T01:00:00.000Z",
        DeviceName: "h",
      },
    ] as IncidentRecord["events"];
    await store.record([incident], []);
    await store.repairLedger(await store.pendingOutbox());
    expect(await store.ledgerOfDay("2026-11-23T01:00:00.000Z")).toEqual([
      expect.objectContaining({ incidentId: "i", disposition: "incident" }),
    ]);
  });

  it("another detection's rows are invisible to it, and its retention leaves them alone", async () => {
    const table = tables.table();
    const stores = [A, ...OTHERS].map((key) => new StateStore(table, key));
    await stores[0].ensureTable();
    const old = new Date(NOW.getTime() - 10 * DAY);
    for (const store of stores) {
      // The same event and incident ids in each: only the key tells them apart.
      await store.record([outboxRow("i", NOW.toISOString())], [ledgerRow(1, "2026-11-19")]);
      await store.markDeliveries(
        [{ incidentId: "i", status: "delivered", attempts: 1, runId: "r", createdAt: "c" }],
        old,
      );
      await store.recordQuarantine([{ reason: "bad", row: { a: 1 } }], "r", old);
      await store.advanceWatermark(NOW, await store.readWatermark());
    }
    const [a, ...others] = stores;
    const before = await Promise.all(others.map(snapshot));

    const retained = await a.applyRetention(NOW, {
      ledgerMs: 8 * DAY,
      deliveredMs: 7 * DAY,
      stop: () => false,
    });
    expect(retained).toEqual({
      ledgerRows: 1,
      deliveryLogRows: 1,
      quarantineRows: 1,
      complete: true,
    });
    expect(await snapshot(a)).toEqual({
      seen: 0,
      outbox: 0,
      quarantine: 0,
      watermark: NOW.toISOString(),
    });
    expect(await Promise.all(others.map(snapshot))).toEqual(before);
    expect(before[0]).toEqual({ seen: 1, outbox: 1, quarantine: 1, watermark: NOW.toISOString() });
  });
});

async function snapshot(store: StateStore) {
  const row = ledgerRow(1, "2026-11-19");
  return {
    seen: (await store.seenEventKeys([{ eventKey: row.eventKey, timestamp: row.timestamp }])).size,
    outbox: (await store.allOutbox()).length,
    quarantine: (await store.allQuarantine()).length,
    watermark: (await store.readWatermark()).value?.toISOString(),
  };
}
