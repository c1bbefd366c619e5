import { randomUUID } from "node:crypto";
import { TableClient } from "@azure/data-tables";
import { LeaseHeldError, LeaseLostError } from "../../functions/state/lease";
import { StateStore } from "../../functions/state/stateStore";
import { detectionKey } from "../../functions/state/detectionKey";
import { startAzuriteTable, type AzuriteTable } from "../../sandbox/azurite";

const MINUTE = 60_000;
const KEY = detectionKey("rule-1", "workspace-1");
let azurite: AzuriteTable;
let store: StateStore;
let now: Date;
const clock = (): Date => now;
const take = (owner: string, mode = "routine") =>
  store.acquireLease({ owner, mode, durationMs: 10 * MINUTE, now: clock });

beforeAll(async () => {
  azurite = await startAzuriteTable();
});
afterAll(() => azurite.stop());
beforeEach(async () => {
  now = new Date("2026-11-25T12:00:00.000Z");
  const table = TableClient.fromConnectionString(
    azurite.connectionString,
    `l${randomUUID().slice(0, 8)}`,
    { allowInsecureConnection: true },
  );
  store = new StateStore(table, KEY);
  await store.ensureTable();
});

describe("the detection's lease", () => {
  it("of runs racing for it, exactly one wins; the others learn who holds it", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => take(`run-${i}`, i % 2 ? "catch-up" : "routine")),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toBeInstanceOf(LeaseHeldError);
    }
  });

  it("is free again once released, and the next holder knows the last run ended cleanly", async () => {
    const first = await take("a");
    expect(first.previousEndedUncleanly).toBe(false);
    await first.lease.release();
    const second = await take("b");
    expect(second.previousEndedUncleanly).toBe(false);
  });

  it("expires: a run that died blocks until then, and the next holder repairs", async () => {
    await take("died");
    await expect(take("b")).rejects.toThrow(/another run \(died, routine\) holds this detection/);
    now = new Date(now.getTime() + 11 * MINUTE);
    expect((await take("c")).previousEndedUncleanly).toBe(true);
  });

  it("renews when half spent; a holder whose lease another run took stops with LeaseLostError", async () => {
    const { lease } = await take("slow");
    now = new Date(now.getTime() + 6 * MINUTE);
    await lease.renewIfDue();
    now = new Date(now.getTime() + 9 * MINUTE);
    await expect(take("other")).rejects.toBeInstanceOf(LeaseHeldError);
    now = new Date(now.getTime() + 2 * MINUTE);
    await take("other");
    now = new Date(now.getTime() + 6 * MINUTE);
    await expect(lease.renewIfDue()).rejects.toBeInstanceOf(LeaseLostError);
  });
});
