// Overlapping runs of one detection (issue 8 item 1): the CLI beside the deployed function, two
// function apps on one table, a retry overlapping a slow run. Each deployment here has its own
// stand-ins but they share one state table in Azurite, as such deployments would.
import type { DetectionEvent } from "../../functions/model";
import { makeEvent } from "../support/events";
import { MINUTE, useSandboxes, type Sandbox } from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");

/** Two events per host on `devices` hosts, ingested `ingestedAgo` before `at`; ReportIds by batch. */
function eventsAt(at: Date, ingestedAgo: number, devices: number, batch: number): DetectionEvent[] {
  const time = new Date(at.getTime() - ingestedAgo).toISOString();
  return Array.from({ length: devices * 2 }, (_, i) =>
    makeEvent({
      DeviceName: `ws-${i % devices}.contoso.local`,
      DeviceId: String(i % devices).padStart(40, "0"),
      ReportId: String(batch * 1000 + i),
      TimeGenerated: time,
      Timestamp: time,
      IngestionTime: time,
    }),
  );
}

const sandboxes = useSandboxes(START);

async function deployments(count: number, events: DetectionEvent[]): Promise<Sandbox[]> {
  const first = await sandboxes.create({ events });
  const rest = await Promise.all(
    Array.from({ length: count - 1 }, () =>
      sandboxes.create({ events, tableName: first.tableName }),
    ),
  );
  return [first, ...rest];
}

describe("runs that overlap", () => {
  it("many runs started in the same tick: one works, the others stop cleanly; every hit is in exactly one incident", async () => {
    const all = await deployments(6, eventsAt(START, 30 * MINUTE, 4, 1));
    for (let tick = 0; tick < 3; tick++) {
      const results = await Promise.all(all.map((s) => s.run()));
      const skipped = results.filter((r) => r.summary.skipped);
      expect(skipped.length).toBe(all.length - 1);
      for (const r of skipped) {
        expect(r.summary.skipped).toMatch(/another run .* holds this detection/);
        expect(r.logs.filter((l) => l.level === "error")).toEqual([]);
      }
      const late = eventsAt(all[0].now, -MINUTE, 3, 2 + tick);
      for (const s of all) {
        s.la.addEvents(late);
        s.advance(5 * MINUTE);
      }
    }
    const incidentOf = new Map<string, Set<string>>();
    for (const incident of all.flatMap((s) => s.delivered())) {
      for (const event of incident.events) {
        const ids = incidentOf.get(event.eventKey) ?? new Set<string>();
        ids.add(incident.incidentId);
        incidentOf.set(event.eventKey, ids);
      }
    }
    // 8 events at the start and 6 more after each of the first two ticks.
    expect(incidentOf.size).toBe(8 + 6 + 6);
    expect([...incidentOf.values()].every((ids) => ids.size === 1)).toBe(true);
  });

  it("a lease left by a run that died blocks until it expires, then the next run repairs and goes on", async () => {
    const [s] = await deployments(1, eventsAt(START, 30 * MINUTE, 2, 9));
    await s.state.ensureTable();
    // What a run killed mid-way leaves: its lease, unreleased, expiring 10 minutes on.
    await s.table.createEntity({
      partitionKey: s.state.layout.lease.partition,
      rowKey: s.state.layout.lease.row,
      Owner: "run-that-died",
      Mode: "routine",
      ExpiresAt: new Date(START.getTime() + 10 * MINUTE).toISOString(),
      Released: false,
    });

    const blocked = await s.run();
    expect(blocked.summary.skipped).toMatch(/run-that-died/);
    expect(s.la.requests).toEqual([]);

    s.advance(11 * MINUTE);
    const next = await s.run();
    expect(next.summary).toMatchObject({ repaired: true, new: 4, incidents: 2, delivered: 2 });
    // It released the lease: the run after it needs no repair.
    s.advance(5 * MINUTE);
    const after = await s.run();
    expect(after.summary.repaired).toBe(false);
    expect(after.summary.skipped).toBeUndefined();
  });
});
