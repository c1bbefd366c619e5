// A run ends within its time budget (issue 8 item 7): a slow playbook and a large backlog of
// undelivered incidents. The playbook here is "slow" on the runs' own clock: each POST moves the
// sandbox clock on, so the test takes no real time and depends on no timing.
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { DetectionEvent } from "../../functions/model";
import { makeEvent } from "../support/events";
import type { LoopbackCertificate } from "../../sandbox/tls";
import { MINUTE, useSandboxes, type Sandbox } from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const SECOND = 1000;
const BUDGET = MINUTE;

/** `count` hits on as many devices, ingested `ingestedAgo` before `at`. */
function hits(at: Date, ingestedAgo: number, count: number, batch: number): DetectionEvent[] {
  const time = new Date(at.getTime() - ingestedAgo).toISOString();
  return Array.from({ length: count }, (_, i) =>
    makeEvent({
      DeviceName: `host-${batch}-${i}.contoso.local`,
      DeviceId: `${batch}${i}`.padStart(40, "0"),
      ReportId: String(batch * 1000 + i),
      TimeGenerated: time,
      Timestamp: time,
      IngestionTime: time,
    }),
  );
}

/** A playbook whose every POST takes `delayMs` of the sandbox's clock, answering `status`. */
interface SlowPlaybook {
  url: string;
  sandbox?: Sandbox;
  status: number;
  delayMs: number;
  /** incidentId of every POST it accepted. */
  accepted: string[];
  posts: number;
  close(): Promise<void>;
}

async function slowPlaybook(tls: LoopbackCertificate): Promise<SlowPlaybook> {
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      pb.posts += 1;
      pb.sandbox?.advance(pb.delayMs);
      const { incidentId } = JSON.parse(body) as { incidentId: string };
      if (pb.status === 200) pb.accepted.push(incidentId);
      // The ingest playbook's answer once the rows are in; anything else is not delivered.
      const answer = pb.status === 200 ? { incidentId, rows: 1 } : {};
      res.writeHead(pb.status, { "content-type": "application/json" }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const pb: SlowPlaybook = {
    url: `https://127.0.0.1:${port}/playbook`,
    status: 200,
    delayMs: 0,
    accepted: [],
    posts: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return pb;
}

const sandboxes = useSandboxes(START);

async function deployment(
  events: DetectionEvent[],
  env: Record<string, string> = {},
): Promise<[Sandbox, SlowPlaybook]> {
  const playbook = await slowPlaybook(sandboxes.tls());
  const s = await sandboxes.create({
    events,
    env: { PLAYBOOK_URL: playbook.url, RUN_BUDGET: "PT1M", INCIDENT_GROUPING: "event", ...env },
  });
  playbook.sandbox = s;
  sandboxes.closeAfterTest(() => playbook.close());
  return [s, playbook];
}

describe("a run's time budget", () => {
  it("with a slow playbook and a large backlog: ends in time, records the new hit first, drains the backlog over the next runs", async () => {
    const [s, playbook] = await deployment(hits(START, 30 * MINUTE, 40, 1));
    // The playbook was down: 40 incidents wait in the outbox.
    playbook.status = 503;
    const down = await s.run();
    expect(down.summary).toMatchObject({ incidents: 40, delivered: 0, breakerOpened: true });
    // Five failures in a row open the breaker; posts already under way (4 at once) still end.
    expect(playbook.posts).toBeLessThanOrEqual(5 + 3);
    expect(await s.state.pendingOutbox()).toHaveLength(40);

    // It is back, but each post takes 5 seconds; a new hit arrives.
    playbook.status = 200;
    playbook.delayMs = 5 * SECOND;
    s.advance(5 * MINUTE);
    s.la.addEvents(hits(s.now, -SECOND, 1, 2));
    s.advance(5 * MINUTE);
    const runs = [];
    for (let i = 0; i < 8 && (await s.state.pendingOutbox()).length > 0; i++) {
      const startedAt = s.now.getTime();
      runs.push((await s.run()).summary);
      expect(s.now.getTime() - startedAt).toBeLessThanOrEqual(BUDGET);
      s.advance(5 * MINUTE);
    }

    // The first of them recorded and delivered the new hit; none delivered everything at once.
    expect(runs[0]).toMatchObject({ new: 1, incidents: 1, delivered: 1 });
    expect(runs[0].retriedDeferred).toBeGreaterThan(0);
    expect(runs.length).toBeGreaterThan(2);
    expect(await s.state.pendingOutbox()).toEqual([]);
    // Every incident reached the playbook exactly once.
    expect(playbook.accepted).toHaveLength(41);
    expect(new Set(playbook.accepted).size).toBe(41);
  });

  it("stops posting to a playbook that keeps failing, for the rest of the run, and says so once", async () => {
    // One post at a time, so the count is exact.
    const [s, playbook] = await deployment(hits(START, 30 * MINUTE, 12, 3), {
      DELIVERY_CONCURRENCY: "1",
    });
    playbook.status = 500;
    const { summary, logs } = await s.run();

    expect(playbook.posts).toBe(5);
    expect(summary).toMatchObject({ incidents: 12, pending: 5, deferred: 7, breakerOpened: true });
    expect(logs.filter((l) => /failed 5 times in a row/.test(l.message))).toHaveLength(1);
    expect(await s.state.pendingOutbox()).toHaveLength(12);
  });
});
