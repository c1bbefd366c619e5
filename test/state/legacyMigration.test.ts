import type { TableClient } from "@azure/data-tables";
import type { IncidentRecord } from "../../functions/incidents/payload";
import { loadDetectionRule } from "../../functions/detection/rule";
import { detectionKey, partitionPrefix } from "../../functions/state/detectionKey";
import {
  LEGACY_RULE_ID,
  migrateLegacyState,
  type MigrationOptions,
} from "../../functions/state/legacyMigration";
import { StateStore } from "../../functions/state/stateStore";
import { allRows, toLegacyLayout } from "../support/legacyState";
import { ledgerRow, outboxRow, useStateTables } from "../support/stateTable";

const tables = useStateTables();
const WORKSPACE = "11111111-2222-4333-8444-555555555555";
const KEY = detectionKey(LEGACY_RULE_ID, WORKSPACE);
const NOW = new Date("2026-11-25T12:00:00Z");
const MINUTE = 60_000;

function options(stop: () => boolean = () => false): MigrationOptions {
  return {
    owner: "new-run",
    durationMs: 10 * MINUTE,
    now: () => NOW,
    stop,
    renew: () => Promise.resolve(),
  };
}

/** A table in the old layout: 1,500 ledger rows over two days, an outbox, quarantine, both watermarks. */
async function legacyTable(): Promise<{ table: TableClient; store: StateStore }> {
  const table = tables.table();
  const store = new StateStore(table, KEY);
  const grant = await store.acquireLease({
    owner: "old-run",
    mode: "routine",
    durationMs: MINUTE,
    now: () => NOW,
  });
  await grant.lease.release();
  const pending = outboxRow("00000000-0000-5000-8000-00000000000a", NOW.toISOString());
  pending.incident.events = [
    {
      eventKey: "DeviceProcessEvents|h|2026-11-25T08:00:00.000Z|p",
      Timestamp: "2026-11-25T08:00:00.000Z",
      DeviceName: "h",
    },
  ] as IncidentRecord["events"];
  // The old run died between the outbox and the ledger: the pending incident's row is missing.
  await store.record(
    [pending, outboxRow("00000000-0000-5000-8000-00000000000b", NOW.toISOString())],
    [
      ...Array.from({ length: 1000 }, (_, i) => ledgerRow(i, "2026-11-24")),
      ...Array.from({ length: 500 }, (_, i) => ledgerRow(i, "2026-11-25")),
    ],
  );
  await store.markDelivery(
    {
      incidentId: "00000000-0000-5000-8000-00000000000b",
      status: "delivered",
      attempts: 1,
      runId: "r",
      createdAt: "c",
    },
    NOW,
  );
  await store.recordQuarantine([{ reason: "bad row", row: { x: 1 } }], "old-run", NOW);
  await store.advanceWatermark(
    new Date("2026-11-25T11:58:00Z"),
    await store.readWatermark("routine"),
  );
  await store.advanceWatermark(
    new Date("2026-11-25T11:00:00Z"),
    await store.readWatermark("catchup"),
    "catchup",
  );
  await toLegacyLayout(table, KEY);
  return { table, store };
}

describe("moving nbtscan's unscoped state into its detection's partitions", () => {
  it("knows nbtscan's rule id, the only rule that wrote unscoped state", () => {
    expect(LEGACY_RULE_ID).toBe(loadDetectionRule().id.toLowerCase());
  });

  it("moves every row, page by page across runs, and the watermarks last", async () => {
    const { table, store } = await legacyTable();
    const legacyRows = await allRows(table);
    expect(legacyRows.every((r) => !r.startsWith(partitionPrefix(KEY)))).toBe(true);

    // A run whose budget ends after the first page: part moved, the watermarks not yet.
    const first = await migrateLegacyState(
      table,
      KEY,
      options(() => true),
    );
    expect(first).toEqual({ status: "partial", rows: 1000 });
    expect((await store.readWatermark()).value).toBeUndefined();
    // Every row is in one place or the other, never lost.
    const between = await allRows(table);
    expect(between.length).toBeGreaterThanOrEqual(legacyRows.length);

    const second = await migrateLegacyState(table, KEY, options());
    expect(second.status).toBe("done");
    const watermarks = await store.readWatermarks();
    expect(watermarks.routine.value).toEqual(new Date("2026-11-25T11:58:00Z"));
    expect(watermarks.catchup.value).toEqual(new Date("2026-11-25T11:00:00Z"));
    expect(await store.pendingOutbox()).toEqual([
      expect.objectContaining({ incidentId: "00000000-0000-5000-8000-00000000000a" }),
    ]);
    expect((await store.allOutbox()).map((o) => o.status).sort()).toEqual(["delivered", "pending"]);
    expect(await store.allQuarantine()).toHaveLength(1);
    expect(await store.ledgerOfDay("2026-11-24T00:00:00Z")).toHaveLength(1000);
    // 500 rows, and the pending incident's event written again (as a repair would).
    expect(await store.ledgerOfDay("2026-11-25T00:00:00Z")).toHaveLength(501);

    // Nothing left in the old partitions but the retired lease, which an old run finds taken.
    const left = (await allRows(table)).filter((r) => !r.startsWith(partitionPrefix(KEY)));
    expect(left).toEqual([`lease/${LEGACY_RULE_ID}`]);
    const lease = await table.getEntity<{ Mode: string; ExpiresAt: string }>(
      "lease",
      LEGACY_RULE_ID,
    );
    expect(lease).toMatchObject({ Mode: "retired", ExpiresAt: "9999-12-31T23:59:59.999Z" });
  });

  it("waits while a run of the old layout holds its lease, and moves nothing", async () => {
    const { table } = await legacyTable();
    await table.updateEntity(
      {
        partitionKey: "lease",
        rowKey: LEGACY_RULE_ID,
        Released: false,
        Owner: "old-run",
        ExpiresAt: new Date(NOW.getTime() + MINUTE).toISOString(),
      },
      "Merge",
    );
    const before = await allRows(table);
    const outcome = await migrateLegacyState(table, KEY, options());
    expect(outcome.status).toBe("waiting");
    expect(outcome.status === "waiting" ? outcome.reason : "").toMatch(/old-run/);
    expect(await allRows(table)).toEqual(before);
  });

  it("touches nothing for another rule, or for nbtscan in a table without unscoped state", async () => {
    const { table } = await legacyTable();
    const before = await allRows(table);
    const other = detectionKey("7f0c1d1e-3b7a-4f55-9a8e-5d1c0b8a9e21", WORKSPACE);
    expect(await migrateLegacyState(table, other, options())).toEqual({ status: "none" });
    expect(await allRows(table)).toEqual(before);

    const empty = tables.table();
    await empty.createTable();
    expect(await migrateLegacyState(empty, KEY, options())).toEqual({ status: "none" });
  });

  it("a second pass after it is done changes nothing, and the facade stops looking", async () => {
    const { table, store } = await legacyTable();
    expect((await store.migrateLegacy(options())).status).toBe("done");
    const after = await allRows(table);
    expect(await store.migrateLegacy(options())).toEqual({ status: "none" });
    // Asked directly, it finds the lease retired and nothing left to move.
    expect(await migrateLegacyState(table, KEY, options())).toEqual({ status: "done", rows: 0 });
    expect(await allRows(table)).toEqual(after);
  });
});
