// The fan-out on real local components: the real tick and worker handlers, Azurite's Queue and
// Table services reached with the real SDK clients, the Log Analytics stand-in and the playbook
// receiver. The host's queue listener is the stand-in of sandbox/queueHost.ts; several of them
// are several function instances. Only the clock and the TLS trust are injected.
import { randomUUID } from "node:crypto";
import { Agent } from "node:https";
import { InvocationContext, type Timer } from "@azure/functions";
import { QueueServiceClient, type QueueClient } from "@azure/storage-queue";
import {
  createTickHandler,
  createWorkerHandler,
  lazyRunner,
  TICK_FUNCTION_NAME,
  WORKER_FUNCTION_NAME,
} from "../../functions/fanout/functions";
import { encodeMessage, parseMessage, type DetectionMessage } from "../../functions/fanout/message";
import {
  DETECTION_QUEUE_NAME,
  POISON_QUEUE_NAME,
  QUEUE_CONNECTION,
} from "../../functions/fanout/queues";
import type { DetectionRunner } from "../../functions/fanout/runner";
import { POISON_WARNING, TICK_ENQUEUED, type TickResult } from "../../functions/fanout/tick";
import { BAD_MESSAGE, GOING_TO_POISON, MAX_DEQUEUE_COUNT } from "../../functions/fanout/worker";
import { loadDetectionRule } from "../../functions/detection/rule";
import { validateIncidentPayload, type IncidentPayload } from "../../functions/incidents/payload";
import { SOURCE_TABLES, type DetectionEvent } from "../../functions/model";
import { RUN_COMPLETED } from "../../functions/run/runLog";
import {
  startAzuriteQueue,
  startAzuriteTable,
  type AzuriteQueue,
  type AzuriteTable,
} from "../../sandbox/azurite";
import {
  startLogAnalyticsStandin,
  type LogAnalyticsStandin,
} from "../../sandbox/logAnalyticsStandin";
import { startPlaybookReceiver, type PlaybookReceiver } from "../../sandbox/playbookReceiver";
import { QueueHostStandin, type Delivery, type HostLogLine } from "../../sandbox/queueHost";
import { createLoopbackCertificate, type LoopbackCertificate } from "../../sandbox/tls";
import { makeEvent } from "../support/events";

const WORKSPACE_ID = "11111111-2222-4333-8444-555555555555";
const START = new Date("2026-11-25T12:00:00.000Z");
const MINUTE = 60_000;
const NBTSCAN = loadDetectionRule().id;
/** nbtscan's runs, as these tests were written for (the first test enqueues every detection). */
const NBTSCAN_ONLY = [NBTSCAN];
const TIMER: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: "", next: "", lastUpdated: "" },
};

let tableService: AzuriteTable;
let queueService: AzuriteQueue;
let tls: LoopbackCertificate;
let agent: Agent;
let work: QueueClient;
let poison: QueueClient;
const toClose: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [tableService, queueService, tls] = await Promise.all([
    startAzuriteTable(),
    startAzuriteQueue(),
    createLoopbackCertificate(),
  ]);
  agent = new Agent({ ca: tls.cert });
  const service = QueueServiceClient.fromConnectionString(queueService.connectionString);
  work = service.getQueueClient(DETECTION_QUEUE_NAME);
  poison = service.getQueueClient(POISON_QUEUE_NAME);
}, 60_000);

beforeEach(async () => {
  // Each test starts with both queues empty (the tick creates them when missing).
  for (const queue of [work, poison]) {
    await queue.createIfNotExists();
    await queue.clearMessages();
  }
});

afterEach(async () => {
  await Promise.all(toClose.splice(0).map((close) => close()));
});

afterAll(async () => {
  agent?.destroy();
  await Promise.all([tableService?.stop(), queueService?.stop()]);
});

/** Two nbtscan runs on each of `devices` hosts, ingested 30 minutes before `at`. */
function eventsAt(at: Date, devices: number, batch: number): DetectionEvent[] {
  const time = new Date(at.getTime() - 30 * MINUTE).toISOString();
  return Array.from({ length: devices * 2 }, (_, i) =>
    makeEvent({
      DeviceName: `ws-${batch}-${i % devices}.contoso.local`,
      DeviceId: `${batch}${i % devices}`.padStart(40, "0"),
      ReportId: String(batch * 1000 + i),
      TimeGenerated: time,
      Timestamp: time,
      IngestionTime: time,
    }),
  );
}

/** One deployment: its stand-ins, its state table, and handlers for as many instances as asked. */
interface Deployment {
  la: LogAnalyticsStandin;
  playbook: PlaybookReceiver;
  env: Record<string, string>;
  now(): Date;
  advance(ms: number): void;
  /** A new function instance's tick handler; `runner` replaces the detections it holds. */
  tick(
    runner?: () => DetectionRunner,
  ): (tickId?: string) => Promise<{ result: TickResult; logs: HostLogLine[] }>;
  /** A new function instance: its own runtime, its own queue listener. */
  instance(options?: { visibilityTimeoutSeconds?: number }): QueueHostStandin;
  /** Every payload the playbook accepted, checked against the contract. */
  delivered(): IncidentPayload[];
}

async function deploy(events: DetectionEvent[]): Promise<Deployment> {
  let now = START;
  const [la, playbook] = await Promise.all([
    startLogAnalyticsStandin({ workspaceId: WORKSPACE_ID, tls, events }),
    startPlaybookReceiver({ tls }),
  ]);
  toClose.push(() => Promise.all([la.close(), playbook.close()]).then(() => undefined));
  const env: Record<string, string> = {
    LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE_ID,
    LOG_ANALYTICS_ENDPOINT: la.url,
    STATE_TABLE_CONNECTION_STRING: tableService.connectionString,
    STATE_TABLE_NAME: `t${randomUUID().replace(/-/g, "")}`,
    PLAYBOOK_URL: playbook.url,
    PLAYBOOK_MAX_RETRIES: "0",
    [QUEUE_CONNECTION]: queueService.connectionString,
  };
  const clock = (): Date => now;
  // The Defender tables ingest up to a minute before each run, as a live connector does.
  const liveTables = (): void => {
    for (const table of SOURCE_TABLES) la.setTableActivity(table, new Date(now.getTime() - MINUTE));
  };
  return {
    la,
    playbook,
    env,
    now: clock,
    advance(ms) {
      now = new Date(now.getTime() + ms);
    },
    tick(runner) {
      let nextId = "";
      const handler = createTickHandler(env, {
        agent,
        now: clock,
        only: NBTSCAN_ONLY,
        tickId: () => nextId,
        ...(runner ? { runner } : {}),
      });
      return async (tickId = randomUUID()) => {
        nextId = tickId;
        const logs: HostLogLine[] = [];
        const context = new InvocationContext({
          functionName: TICK_FUNCTION_NAME,
          logHandler: (level, ...args) => logs.push({ level, message: args.map(String).join(" ") }),
        });
        return { result: await handler(TIMER, context), logs };
      };
    },
    instance(options = {}) {
      const handler = createWorkerHandler(env, { agent, now: clock, only: NBTSCAN_ONLY });
      return new QueueHostStandin({
        functionName: WORKER_FUNCTION_NAME,
        queue: work,
        poison,
        handler: async (entry, context) => {
          liveTables();
          await handler(entry, context);
        },
        maxDequeueCount: MAX_DEQUEUE_COUNT,
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 0,
      });
    },
    delivered() {
      return playbook.received
        .filter((post) => post.status === 200)
        .map((post) => validateIncidentPayload(post.body));
    },
  };
}

/** Every message on a queue, read without changing it (Peek Messages returns at most 32). */
async function peekAll(queue: QueueClient): Promise<DetectionMessage[]> {
  const { peekedMessageItems } = await queue.peekMessages({ numberOfMessages: 32 });
  return peekedMessageItems.map((item) => {
    const parsed = parseMessage(Buffer.from(item.messageText, "base64").toString("utf8"));
    if ("problem" in parsed) throw new Error(`unexpected message: ${parsed.problem}`);
    return parsed;
  });
}

/** The completion summaries a delivery's invocation logged. */
function summariesOf(deliveries: Delivery[]): Record<string, unknown>[] {
  return deliveries.flatMap((d) =>
    d.logs
      .filter((l) => l.message.startsWith(RUN_COMPLETED))
      .map((l) => JSON.parse(l.message.slice(RUN_COMPLETED.length)) as Record<string, unknown>),
  );
}

/** For each delivered event, the incidents it appeared in. */
function incidentsPerEvent(payloads: IncidentPayload[]): Map<string, Set<string>> {
  const incidentOf = new Map<string, Set<string>>();
  for (const incident of payloads) {
    for (const event of incident.events) {
      const ids = incidentOf.get(event.eventKey) ?? new Set<string>();
      ids.add(incident.incidentId);
      incidentOf.set(event.eventKey, ids);
    }
  }
  return incidentOf;
}

describe("fan-out over the detection queue", () => {
  it("each tick enqueues exactly one message per detection, and queries nothing itself", async () => {
    const d = await deploy(eventsAt(START, 2, 1));
    // Every shipped detection, in the compiled order: nbtscan, AdFind, the network scanner.
    const extra = ["a4311252-87ba-4abe-b481-9f907b5865bb", "207dc176-552f-42f5-93fb-a71c271985c6"];
    const tick = d.tick(lazyRunner(d.env, { agent, now: d.now }));
    const ticks = ["tick-1", "tick-2", "tick-3"];
    for (const id of ticks) {
      const { result, logs } = await tick(id);
      expect(result.enqueued.map((m) => m.ruleId)).toEqual([NBTSCAN, ...extra]);
      expect(logs.filter((l) => l.message.startsWith(TICK_ENQUEUED))).toHaveLength(1);
      d.advance(5 * MINUTE);
    }
    const messages = await peekAll(work);
    expect(messages).toHaveLength(ticks.length * 3);
    for (const id of ticks) {
      const ofTick = messages.filter((m) => m.tickId === id).map((m) => m.ruleId);
      expect(ofTick.sort()).toEqual([NBTSCAN, ...extra].sort());
    }
    // The tick only enqueues: Log Analytics saw no query, the playbook no post.
    expect(d.la.requests).toEqual([]);
    expect(d.playbook.received).toEqual([]);
  });

  it("a worker runs the detection a message names: every hit in one incident, the next run finds nothing new", async () => {
    const events = eventsAt(START, 3, 1);
    const d = await deploy(events);
    const tick = d.tick();
    const worker = d.instance();
    await tick();
    const first = await worker.drain();
    expect(first.map((x) => x.outcome)).toEqual(["deleted"]);
    expect(summariesOf(first)).toEqual([
      expect.objectContaining({ ruleId: NBTSCAN, attempt: 1, new: 6, incidents: 3, delivered: 3 }),
    ]);
    d.advance(5 * MINUTE);
    await tick();
    const second = await worker.drain();
    expect(summariesOf(second)).toEqual([expect.objectContaining({ new: 0, incidents: 0 })]);
    const incidentOf = incidentsPerEvent(d.delivered());
    expect(incidentOf.size).toBe(events.length);
    expect([...incidentOf.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(await peekAll(work)).toEqual([]);
  });

  it("a crashed worker's message comes back with a higher dequeue count and another worker runs it", async () => {
    const events = eventsAt(START, 2, 2);
    const d = await deploy(events);
    await d.tick()();
    const crashed = d.instance();
    const taken = await crashed.receive();
    expect(taken?.dequeueCount).toBe(1);
    // The instance dies holding it: nobody deletes or releases it. While its 10 minutes of
    // invisibility last, no other worker sees it.
    const other = d.instance();
    expect(await other.receive()).toBeUndefined();
    // The storage service makes it visible when they end; its clock cannot be moved, so the
    // end is applied directly (visibility 0) instead of waited for.
    if (!taken) throw new Error("no message");
    await work.updateMessage(taken.messageId, taken.popReceipt, undefined, 0);
    const retried = await other.drain();
    expect(retried).toEqual([expect.objectContaining({ dequeueCount: 2, outcome: "deleted" })]);
    expect(summariesOf(retried)).toEqual([
      expect.objectContaining({ ruleId: NBTSCAN, attempt: 2, new: 4, incidents: 2, delivered: 2 }),
    ]);
  });

  it("a worker that ran the detection and died before deleting its message: the retry finds nothing new", async () => {
    const events = eventsAt(START, 2, 3);
    const d = await deploy(events);
    await d.tick()();
    const dying = d.instance();
    const taken = await dying.receive();
    if (!taken) throw new Error("no message");
    // The handler runs to its end, as the host would run it, but the host dies before its delete.
    const handler = createWorkerHandler(d.env, { agent, now: d.now });
    for (const table of SOURCE_TABLES)
      d.la.setTableActivity(table, new Date(d.now().getTime() - MINUTE));
    const entry = JSON.parse(Buffer.from(taken.messageText, "base64").toString("utf8")) as unknown;
    await handler(
      entry,
      new InvocationContext({
        functionName: WORKER_FUNCTION_NAME,
        triggerMetadata: { dequeueCount: 1 },
      }),
    );
    expect(d.delivered()).toHaveLength(2);
    await work.updateMessage(taken.messageId, taken.popReceipt, undefined, 0);
    const retried = await d.instance().drain();
    expect(summariesOf(retried)).toEqual([
      expect.objectContaining({ attempt: 2, new: 0, incidents: 0, delivered: 0 }),
    ]);
    const incidentOf = incidentsPerEvent(d.delivered());
    expect(incidentOf.size).toBe(events.length);
    expect([...incidentOf.values()].every((ids) => ids.size === 1)).toBe(true);
  });

  it("workers racing on one rule's messages: one incident per hit, tick after tick", async () => {
    const d = await deploy(eventsAt(START, 4, 4));
    const tick = d.tick();
    const workers = [d.instance(), d.instance(), d.instance()];
    let expected = 8;
    const skipped: number[] = [];
    for (let round = 0; round < 3; round++) {
      // Three ticks' messages for the same rule wait (workers were slow), then three
      // instances take one each at the same time.
      for (let t = 0; t < workers.length; t++) await tick();
      const taken = await Promise.all(workers.map((w) => w.receive()));
      expect(taken.every((m) => m !== undefined)).toBe(true);
      const deliveries = await Promise.all(
        workers.map((w, i) => {
          const message = taken[i];
          if (!message) throw new Error("no message");
          return w.process(message);
        }),
      );
      expect(deliveries.map((x) => x.outcome)).toEqual(["deleted", "deleted", "deleted"]);
      const summaries = summariesOf(deliveries);
      expect(summaries).toHaveLength(3);
      // A run that found another holding the rule's lease stopped cleanly, logging no error.
      for (const [i, s] of summaries.entries()) {
        if (s.skipped) expect(deliveries[i].logs.filter((l) => l.level === "error")).toEqual([]);
      }
      skipped.push(summaries.filter((s) => s.skipped).length);
      const late = eventsAt(new Date(d.now().getTime() + 30 * MINUTE), 3, 10 + round);
      d.la.addEvents(late);
      d.advance(5 * MINUTE);
      if (round < 2) expected += late.length;
    }
    // Started together, the three runs of a round met on the rule's lease: two stopped.
    expect(skipped).toEqual([2, 2, 2]);
    // The last round's late events are found by the next run.
    await tick();
    await d.instance().drain();
    expected += 6;
    const incidentOf = incidentsPerEvent(d.delivered());
    expect(incidentOf.size).toBe(expected);
    expect([...incidentOf.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(await peekAll(work)).toEqual([]);
  });

  it("a run that fails every attempt: retried, then moved to the poison queue with one line naming the rule; the tick warns", async () => {
    const d = await deploy(eventsAt(START, 1, 5));
    // The workspace refuses the identity (its role was removed): every detection query fails.
    d.la.enqueueFault({ status: 403, times: MAX_DEQUEUE_COUNT });
    const tick = d.tick();
    await tick();
    const deliveries = await d.instance().drain();
    expect(deliveries.map((x) => [x.dequeueCount, x.outcome])).toEqual([
      [1, "released"],
      [2, "released"],
      [3, "released"],
      [4, "released"],
      [5, "poisoned"],
    ]);
    const errors = deliveries.flatMap((x) => x.logs.filter((l) => l.level === "error"));
    const poisonLines = errors.filter((l) => l.message.startsWith(GOING_TO_POISON));
    expect(poisonLines).toHaveLength(1);
    expect(poisonLines[0].message).toContain(`rule ${NBTSCAN} failed attempt 5 of 5`);
    expect(poisonLines[0].message).toContain(POISON_QUEUE_NAME);
    expect(poisonLines[0].message).toMatch(
      /Log Analytics at https:\/\/127\.0\.0\.1:\d+\/v1 answered HTTP 403/,
    );
    expect(
      errors.filter((l) => /attempt [1-4] of 5; the message is retried/.test(l.message)),
    ).toHaveLength(4);
    expect(await peekAll(work)).toEqual([]);
    expect((await peekAll(poison)).map((m) => m.ruleId)).toEqual([NBTSCAN]);
    expect(d.delivered()).toEqual([]);

    // The next tick enqueues the rule again, and says what the poison queue holds.
    d.advance(5 * MINUTE);
    const { result, logs } = await tick();
    expect(result.poisoned).toBe(1);
    const warnings = logs.filter((l) => l.message.startsWith(POISON_WARNING));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: "warning" });
    expect(warnings[0].message).toContain(`${NBTSCAN} x1`);
    // The fault is over: the rule's next message runs, and its hits are delivered once.
    const recovered = await d.instance().drain();
    expect(summariesOf(recovered)).toEqual([expect.objectContaining({ new: 2, delivered: 1 })]);
  });

  it("a message that is not a detection request is dropped with one line naming it; one naming an unknown rule too", async () => {
    const d = await deploy([]);
    await work.sendMessage(Buffer.from("run everything").toString("base64"));
    await work.sendMessage(
      encodeMessage({ ruleId: "no-such-rule", enqueuedAt: START.toISOString(), tickId: "t" }),
    );
    const deliveries = await d.instance().drain();
    expect(deliveries.map((x) => x.outcome)).toEqual(["deleted", "deleted"]);
    const lines = deliveries.map((x) => x.logs.filter((l) => l.level === "error"));
    expect(lines[0]).toEqual([
      {
        level: "error",
        message: expect.stringMatching(
          new RegExp(
            `^${BAD_MESSAGE}: message \\S+ is not JSON: "run everything"; dropped, not retried$`,
          ),
        ) as unknown,
      },
    ]);
    expect(lines[1]).toEqual([
      {
        level: "error",
        message: expect.stringMatching(
          /names rule no-such-rule, which this app does not run; dropped, not retried$/,
        ) as unknown,
      },
    ]);
    expect(await peekAll(poison)).toEqual([]);
    expect(d.la.requests).toEqual([]);
  });

  it("a message the host cannot decode is retried, then poisoned: never retried for ever", async () => {
    const d = await deploy([]);
    await work.sendMessage("{not base64}");
    const deliveries = await d.instance().drain();
    expect(deliveries.map((x) => x.outcome)).toEqual([
      "released",
      "released",
      "released",
      "released",
      "poisoned",
    ]);
    const { peekedMessageItems } = await poison.peekMessages();
    expect(peekedMessageItems.map((m) => m.messageText)).toEqual(["{not base64}"]);
    // The tick names it though it names no rule.
    const { logs } = await d.tick()();
    expect(logs.find((l) => l.message.startsWith(POISON_WARNING))?.message).toContain(
      "(unreadable message) x1",
    );
  });
});
