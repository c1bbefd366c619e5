// Two detections in one state table: nbtscan against two workspaces, reading the very same
// events (same event keys, so only the detection key keeps their state apart). Whatever one of
// them goes through (its lease held, a poison row, a backlog with undelivered incidents), the
// other's runs are what they are when it runs alone.
import type { DetectionEvent } from "../../functions/model";
import { makeEvent } from "../support/events";
import { useSandboxes, MINUTE, type Sandbox, type SandboxOptions } from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const OTHER_WORKSPACE = "99999999-2222-4333-8444-555555555555";
const ago = (ms: number): string => new Date(START.getTime() - ms).toISOString();

const sandboxes = useSandboxes(START);

/** `count` hits on `devices` devices, generated and ingested over the last hour. */
function hits(count: number, devices = 5): DetectionEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const generated = 60 * MINUTE - (i * 50 * MINUTE) / count;
    return makeEvent({
      DeviceName: `ws-${i % devices}.contoso.local`,
      DeviceId: (i % devices).toString(16).padStart(40, "0"),
      ReportId: String(100_000 + i),
      TimeGenerated: ago(generated),
      Timestamp: ago(generated),
      IngestionTime: ago(generated - 30_000),
    });
  });
}

/** The run's summary without what differs between any two runs (its id and duration). */
function comparable(summary: Record<string, unknown>): Record<string, unknown> {
  const { runId: _runId, durationMs: _durationMs, ...rest } = summary;
  void [_runId, _durationMs];
  return rest;
}

/** Two runs five minutes apart, their summaries as compared, and the incidents delivered. */
async function twoRuns(s: Sandbox): Promise<{ summaries: unknown[]; delivered: string[] }> {
  const first = await s.run();
  s.advance(5 * MINUTE);
  const second = await s.run();
  return {
    summaries: [comparable(first.summary), comparable(second.summary)],
    delivered: s
      .delivered()
      .map((i) => `${i.incidentId} ${i.events.map((e) => e.eventKey).join(",")}`)
      .sort(),
  };
}

/**
 * Detection B's runs alone, and with detection A in its table after `disturb` put A in some
 * state; they must be the same.
 */
async function expectUnchanged(
  events: DetectionEvent[],
  a: SandboxOptions,
  disturb: (a: Sandbox) => Promise<void>,
): Promise<void> {
  const alone = await sandboxes.create({ events, workspaceId: OTHER_WORKSPACE });
  const expected = await twoRuns(alone);

  const detectionA = await sandboxes.create({ events, ...a });
  await disturb(detectionA);
  const b = await sandboxes.create({
    events,
    workspaceId: OTHER_WORKSPACE,
    tableName: detectionA.tableName,
  });
  expect(await twoRuns(b)).toEqual(expected);
  // Two detections, one table: the rule is the same, the workspace is not.
  expect(b.tableName).toBe(detectionA.tableName);
  expect(b.state.key.ruleId).toBe(detectionA.state.key.ruleId);
  expect(b.state.key.workspaceId).not.toBe(detectionA.state.key.workspaceId);
}

describe("one detection's state leaves another's runs unchanged", () => {
  it("its lease, held by another run", async () => {
    await expectUnchanged(hits(20), {}, async (a) => {
      await a.state.acquireLease({
        owner: "a-long-run",
        mode: "routine",
        durationMs: 60 * MINUTE,
        now: () => START,
      });
      const blocked = await a.run();
      expect(blocked.summary.skipped).toMatch(/a-long-run/);
    });
  });

  it("its poison rows, quarantined", async () => {
    const events = [
      ...hits(10),
      makeEvent({ ReportId: "999", Timestamp: "", IngestionTime: ago(MINUTE * 5) }),
    ];
    await expectUnchanged(events, {}, async (a) => {
      const run = await a.run();
      expect(run.summary.quarantined).toBeGreaterThan(0);
      expect(await a.state.allQuarantine()).not.toEqual([]);
    });
  });

  it("its backlog, and its outbox of incidents the playbook did not take", async () => {
    const events = hits(1100, 10);
    await expectUnchanged(events, { env: { MAX_HITS_PER_RUN: "1000" } }, async (a) => {
      a.playbook.respondWith(503, 100);
      const run = await a.run();
      expect(run.summary).toMatchObject({ backlog: true, new: 1000 });
      expect((await a.state.pendingOutbox()).length).toBeGreaterThan(0);
    });
  });
});
