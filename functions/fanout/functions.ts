// The fan-out's two Azure Functions handlers, as functions/index.ts registers them: the timer
// tick and the queue worker. Everything they do is in tick.ts and worker.ts; this binds them to
// the Functions InvocationContext and builds the clients once per process.
import { randomUUID } from "node:crypto";
import type { TokenCredential } from "@azure/core-auth";
import type { InvocationContext, StorageQueueHandler, Timer } from "@azure/functions";
import { azureCredential } from "../azure/credentials";
import { loadConfig } from "../config/config";
import { failureLine, type ServiceEndpoint } from "../run/failureLine";
import { FUNCTION_NAME, logTo } from "../run/runLog";
import { DetectionRuntime, type RuntimeOptions } from "../run/runtime";
import { detectionQueues, QUEUE_CLIENT_ID_SETTING, type DetectionQueues } from "./queues";
import { runtimeRunner, type DetectionRunner } from "./runner";
import { tick, type TickResult } from "./tick";
import { handleMessage } from "./worker";

/** The timer function of the fan-out: it enqueues, it runs no detection. */
export const TICK_FUNCTION_NAME = "detectionTick";
/**
 * The queue worker runs the detections, so it keeps the name the health alert watches for failed
 * invocations (infra/modules/health-alert.bicep); its completion lines are the alert's
 * "completed runs", and a tick that enqueues nothing shows there as none completed.
 */
export const WORKER_FUNCTION_NAME = FUNCTION_NAME;

type Env = Readonly<Record<string, string | undefined>>;

/** How the fan-out's handlers build their clients; tests inject the clock and credential. */
export interface FanOutOptions extends Omit<RuntimeOptions, "host"> {
  /**
   * The runner to use instead of one built from the environment: the one the process's other
   * handler uses (index.ts), or a test's.
   */
  runner?: () => DetectionRunner;
  /** Names each tick; a random UUID by default. */
  tickId?: () => string;
}

/**
 * The process's runner, built on first use from validated settings and reused (its SDK clients
 * keep their connections); a bad setting fails each use with a message naming it.
 */
export function lazyRunner(
  env: Env,
  options: Omit<RuntimeOptions, "host"> = {},
): () => DetectionRunner {
  let runner: DetectionRunner | undefined;
  return () =>
    (runner ??= runtimeRunner(
      new DetectionRuntime(loadConfig(env), { ...options, host: "function" }),
    ));
}

/** The timer handler: one message per due detection, then a look at the poison queue. */
export function createTickHandler(
  env: Env,
  options: FanOutOptions = {},
): (timer: Timer, context: InvocationContext) => Promise<TickResult> {
  const runner = options.runner ?? lazyRunner(env, options);
  let queues: DetectionQueues | undefined;
  // The function's user-assigned identity: the connection's clientId, as the host uses it.
  const credential = (): TokenCredential =>
    options.credential ??
    azureCredential("function", env[QUEUE_CLIENT_ID_SETTING]?.trim() || undefined);
  return async (timer, context) => {
    let services: ServiceEndpoint[] = [];
    try {
      if (timer.isPastDue) context.warn("timer is past due: the previous schedule slot was missed");
      queues ??= detectionQueues(env, credential);
      services = [{ service: "Queue Storage", url: queues.url, settings: queues.settings }];
      const built = runner();
      services.push(...built.services);
      // Each tick names the rules that will not be enqueued (the health alert sees the failed).
      built.reportUnavailable?.(logTo(context));
      return await tick(built, queues, {
        tickId: options.tickId?.() ?? randomUUID(),
        now: options.now ?? (() => new Date()),
        log: logTo(context),
      });
    } catch (error) {
      context.error(`nbtscan-detector tick failed: ${failureLine(error, services)}`);
      // Rethrown so the invocation counts as failed (the timer's retry policy, the health alert).
      throw error;
    }
  };
}

/** The queue handler: runs the one detection its message names. */
export function createWorkerHandler(env: Env, options: FanOutOptions = {}): StorageQueueHandler {
  const runner = options.runner ?? lazyRunner(env, options);
  return async (entry, context) => {
    await handleMessage(entry, context.triggerMetadata ?? {}, runner, logTo(context));
  };
}
