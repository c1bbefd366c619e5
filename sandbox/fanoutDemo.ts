// `npm start`'s fan-out step: the path the deployed app takes, on this machine. Azurite's Queue
// service holds the detection queue; the real tick handler enqueues one message per detection
// with the real @azure/storage-queue client, and the real queue worker runs each message under
// the host's queue-listener stand-in (queueHost.ts), as Azure runs it on Flex Consumption.
import { Agent } from "node:https";
import { InvocationContext, type Timer } from "@azure/functions";
import { QueueServiceClient } from "@azure/storage-queue";
import {
  createTickHandler,
  createWorkerHandler,
  lazyRunner,
  TICK_FUNCTION_NAME,
  WORKER_FUNCTION_NAME,
} from "../functions/fanout/functions";
import {
  DETECTION_QUEUE_NAME,
  POISON_QUEUE_NAME,
  QUEUE_CONNECTION,
} from "../functions/fanout/queues";
import { RUN_COMPLETED } from "../functions/run/runLog";
import { MAX_DEQUEUE_COUNT } from "../functions/fanout/worker";
import type { AzuriteQueue } from "./azurite";
import { QueueHostStandin } from "./queueHost";

const TIMER: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: "", next: "", lastUpdated: "" },
};

/** What the fan-out step did: its runs' summaries, and whether every message was settled. */
export interface FanOutDemo {
  enqueued: string[];
  summaries: Record<string, unknown>[];
  ok: boolean;
}

/**
 * One tick and the worker draining its messages, with `env` (the sandbox's settings) plus the
 * queue connection; prints each step's lines. `ca` is the stand-ins' certificate.
 */
export async function runFanOut(
  env: Record<string, string | undefined>,
  queue: AzuriteQueue,
  ca: string,
): Promise<FanOutDemo> {
  const agent = new Agent({ ca });
  try {
    const fanOutEnv = { ...env, [QUEUE_CONNECTION]: queue.connectionString };
    const runner = lazyRunner(fanOutEnv, { agent });
    const print =
      (name: string) =>
      (level: string, ...args: unknown[]): void =>
        console.log(`[${name} ${level}] ${args.map(String).join(" ")}`);
    const tick = createTickHandler(fanOutEnv, { runner });
    const { enqueued } = await tick(
      TIMER,
      new InvocationContext({ functionName: TICK_FUNCTION_NAME, logHandler: print("tick") }),
    );
    const service = QueueServiceClient.fromConnectionString(queue.connectionString);
    const worker = new QueueHostStandin({
      functionName: WORKER_FUNCTION_NAME,
      queue: service.getQueueClient(DETECTION_QUEUE_NAME),
      poison: service.getQueueClient(POISON_QUEUE_NAME),
      handler: createWorkerHandler(fanOutEnv, { runner }),
      maxDequeueCount: MAX_DEQUEUE_COUNT,
      visibilityTimeoutSeconds: 0,
    });
    const deliveries = await worker.drain();
    const summaries: Record<string, unknown>[] = [];
    for (const delivery of deliveries) {
      for (const line of delivery.logs) {
        const completed = line.message.startsWith(RUN_COMPLETED);
        if (completed) {
          summaries.push(
            JSON.parse(line.message.slice(RUN_COMPLETED.length)) as Record<string, unknown>,
          );
        }
        // The completion line is a long JSON record: the worker's other lines and a short form.
        if (!completed || line.level !== "information") {
          print("worker")(line.level, line.message);
        }
      }
      console.log(`[worker] message ${delivery.messageId}: ${delivery.outcome}`);
    }
    for (const s of summaries) {
      console.log(
        `[worker] rule ${String(s.ruleId)}: ${String(s.new)} new hit(s), ` +
          `${String(s.incidents)} incident(s), ${String(s.delivered)} delivered`,
      );
    }
    return {
      enqueued: enqueued.map((m) => m.ruleId),
      summaries,
      ok: deliveries.every((d) => d.outcome === "deleted"),
    };
  } finally {
    agent.destroy();
  }
}
