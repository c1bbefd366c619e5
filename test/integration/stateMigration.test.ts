// A deployment of the previous version kept nbtscan's state unscoped (partitions lease,
// watermark, ledger-YYYYMMDD, outbox, quarantine). Its first run after the upgrade moves that
// state into the detection's own partitions and goes on from it: nothing raised twice, nothing
// pending lost, the watermarks kept.
import type { DetectionEvent } from "../../functions/model";
import { partitionPrefix } from "../../functions/state/detectionKey";
import { LEGACY_RULE_ID } from "../../functions/state/legacyMigration";
import { makeEvent } from "../support/events";
import { allRows, toLegacyLayout } from "../support/legacyState";
import { useSandboxes, MINUTE } from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const DAY = 24 * 60 * MINUTE;
const ago = (ms: number): string => new Date(START.getTime() - ms).toISOString();

/** A hit on `device`, generated `generatedAgo` and ingested `ingestedAgo` before START. */
function hit(device: number, generatedAgo: number, ingestedAgo: number): DetectionEvent {
  return makeEvent({
    DeviceName: `ws-${device}.contoso.local`,
    DeviceId: device.toString(16).padStart(40, "0"),
    TimeGenerated: ago(generatedAgo),
    Timestamp: ago(generatedAgo),
    IngestionTime: ago(ingestedAgo),
  });
}

const sandboxes = useSandboxes(START);

describe("state written before it was kept per detection", () => {
  it("moves on the first run, then no hit is raised twice, pending incidents go out, watermarks stay", async () => {
    // The old deployment's runs: five devices, the playbook down, so three incidents stay pending.
    const early = [1, 2, 3, 4, 5].map((d) => hit(d, 40 * MINUTE, 30 * MINUTE));
    const s = await sandboxes.create({ events: early });
    s.playbook.respondWith(503, 3);
    const old = await s.run();
    expect(old.summary).toMatchObject({ new: 5, incidents: 5, delivered: 2, pending: 3 });
    const pendingIds = (await s.state.pendingOutbox()).map((o) => o.incidentId).sort();
    const watermark = (await s.state.readWatermark()).value;
    expect(watermark?.toISOString()).toBe(ago(2 * MINUTE));
    // What the previous version left in the table.
    await toLegacyLayout(s.table, s.state.key);
    expect((await allRows(s.table)).some((r) => r.startsWith(partitionPrefix(s.state.key)))).toBe(
      false,
    );

    // The upgrade: a new event, one generated days ago that the catch-up pass will find, and
    // two old hits ingested again: only the moved ledger knows them.
    s.la.addEvents([
      hit(6, 3 * MINUTE, -MINUTE),
      hit(7, 3 * DAY, -2 * MINUTE),
      ...early.slice(0, 2).map((e) => ({ ...e, IngestionTime: ago(-MINUTE) })),
    ]);
    s.advance(5 * MINUTE);
    const upgraded = await s.run();
    expect(upgraded.logs.some((l) => /moved \d+ row\(s\) of unscoped state/.test(l.message))).toBe(
      true,
    );
    // It went on from the old watermark: only the new event's window was read.
    expect(upgraded.summary).toMatchObject({
      windowStart: ago(2 * MINUTE),
      new: 1,
      duplicates: 2,
      incidents: 1,
      retriedDelivered: 3,
    });
    expect(await s.state.pendingOutbox()).toEqual([]);

    // An hour on, the catch-up pass goes on from its kept watermark and finds the late event.
    s.advance(60 * MINUTE);
    const later = await s.run();
    expect(later.summary.catchUp).toMatchObject({ windowStart: ago(2 * MINUTE), new: 1 });

    const delivered = s.delivered();
    const keys = delivered.flatMap((i) => i.events.map((e) => e.eventKey));
    expect(keys).toHaveLength(7);
    expect(new Set(keys).size).toBe(7);
    // The incidents recorded before the upgrade went out with the ids they were recorded with.
    const ids = delivered.map((i) => i.incidentId);
    expect(pendingIds.every((id) => ids.includes(id))).toBe(true);
    // Nothing is left in the old partitions but the retired lease.
    const unscoped = (await allRows(s.table)).filter(
      (r) => !r.startsWith(partitionPrefix(s.state.key)),
    );
    expect(unscoped).toEqual([`lease/${LEGACY_RULE_ID}`]);
  });
});
