// The timer tick of the fan-out: one message per due detection on the detection queue, then a
// look at the poison queue. The tick runs no detection itself; the queue trigger does, one
// detection per message, on as many instances as Flex Consumption gives the queue.
import { RestError } from "@azure/core-rest-pipeline";
import type { QueueClient } from "@azure/storage-queue";
import type { RunLog } from "../run/runLog";
import { errorLine } from "../run/errorLine";
import { encodeMessage, isDetectionMessage, parseMessage, type DetectionMessage } from "./message";
import { POISON_QUEUE_NAME, type DetectionQueues } from "./queues";
import type { DetectionRunner } from "./runner";

/** The prefix of the tick's line listing what it enqueued. */
export const TICK_ENQUEUED = "nbtscan-detector tick enqueued";
/** The prefix of the warning a tick logs while the poison queue holds messages. */
export const POISON_WARNING = "nbtscan-detector poison messages";

/**
 * How long an enqueued message may wait for a worker: one hour. A message is a request to run
 * now; after an outage the ticks' messages would otherwise pile up for the queue's default 7
 * days (Put Message `messagettl`, learn.microsoft.com/rest/api/storageservices/put-message) and
 * all run at once, each finding nothing new. A run is never lost to this: the next tick asks
 * again, and what a run has to read is in the detection's watermarks, not in the message. An
 * hour is far more than a message's five attempts take (host.json visibilityTimeout x 4 plus
 * the runs), so a failing message still reaches the poison queue before it expires.
 */
export const MESSAGE_TTL_SECONDS = 60 * 60;
/** Peek Messages returns at most 32 (learn.microsoft.com/rest/api/storageservices/peek-messages). */
const MAX_PEEK = 32;

/** What one tick did. */
export interface TickResult {
  tickId: string;
  /** Every message the tick enqueued, in order. */
  enqueued: DetectionMessage[];
  /** The poison queue's approximate length, or undefined when it could not be read. */
  poisoned: number | undefined;
}

function isQueueNotFound(error: unknown): boolean {
  return (
    error instanceof RestError &&
    error.statusCode === 404 &&
    (error.code === "QueueNotFound" || error.code === undefined)
  );
}

/** Sends one message; a queue that does not exist yet (a fresh Azurite) is created once. */
async function send(queue: QueueClient, text: string): Promise<void> {
  try {
    await queue.sendMessage(text, { messageTimeToLive: MESSAGE_TTL_SECONDS });
  } catch (error) {
    if (!isQueueNotFound(error)) throw error;
    await queue.createIfNotExists();
    await queue.sendMessage(text, { messageTimeToLive: MESSAGE_TTL_SECONDS });
  }
}

/** Options of one tick; the clock and tick id are injected so tests can name them. */
export interface TickOptions {
  tickId: string;
  now: () => Date;
  log: RunLog;
}

/**
 * Enqueues one message per detection the runner holds (all of them are due each tick: each run
 * decides from its own watermarks what it has to read, and a run that finds the previous one
 * still working stops cleanly on its lease), then reports the poison queue. A message that
 * cannot be sent does not keep the others from being sent; the tick then throws, naming the
 * rules, so the invocation fails where the health alert sees it.
 */
export async function tick(
  runner: DetectionRunner,
  queues: DetectionQueues,
  options: TickOptions,
): Promise<TickResult> {
  const enqueuedAt = options.now().toISOString();
  const messages: DetectionMessage[] = runner
    .ruleIds()
    .map((ruleId) => ({ ruleId, enqueuedAt, tickId: options.tickId }));
  const sent = await Promise.allSettled(
    messages.map((message) => send(queues.work, encodeMessage(message))),
  );
  const enqueued = messages.filter((_, i) => sent[i].status === "fulfilled");
  options.log.info(
    `${TICK_ENQUEUED} ${enqueued.length} detection(s) on ${queues.work.name} ` +
      `(tick ${options.tickId}): ${enqueued.map((m) => m.ruleId).join(", ") || "none"}`,
  );
  const poisoned = await reportPoison(queues.poison, options.log);
  const failed = sent.flatMap((outcome, i) =>
    outcome.status === "rejected"
      ? [{ ruleId: messages[i].ruleId, error: outcome.reason as unknown }]
      : [],
  );
  if (failed.length > 0) {
    const first =
      failed[0].error instanceof Error ? failed[0].error : new Error(String(failed[0].error));
    throw new Error(
      `could not enqueue ${failed.length} detection(s) on ${queues.work.name}: ` +
        `${failed.map((f) => f.ruleId).join(", ")} (${errorLine(first)})`,
      { cause: first },
    );
  }
  return { tickId: options.tickId, enqueued, poisoned };
}

/**
 * Warns, naming the rules, while the poison queue holds messages: they are the record of runs
 * that failed every attempt (README, "Poison messages"). The poison queue is watched here, by
 * the tick, because the tick runs on schedule whatever the workers do. Reading it is best
 * effort: a failure is one warning and never stops the tick.
 */
export async function reportPoison(poison: QueueClient, log: RunLog): Promise<number | undefined> {
  try {
    const { approximateMessagesCount = 0 } = await poison.getProperties();
    if (approximateMessagesCount === 0) return 0;
    const { peekedMessageItems } = await poison.peekMessages({ numberOfMessages: MAX_PEEK });
    const byRule = new Map<string, number>();
    for (const item of peekedMessageItems) {
      const text = Buffer.from(item.messageText, "base64").toString("utf8");
      const parsed = parseMessage(text);
      const rule = isDetectionMessage(parsed) ? parsed.ruleId : "(unreadable message)";
      byRule.set(rule, (byRule.get(rule) ?? 0) + 1);
    }
    const rules = [...byRule].map(([rule, n]) => `${rule} x${n}`).join(", ");
    const sample =
      peekedMessageItems.length < approximateMessagesCount
        ? ` (the first ${peekedMessageItems.length})`
        : "";
    log.warn(
      `${POISON_WARNING}: ${approximateMessagesCount} in ${POISON_QUEUE_NAME}; rules${sample}: ` +
        `${rules}. Each is a run that failed every attempt; see the README, "Poison messages".`,
    );
    return approximateMessagesCount;
  } catch (error) {
    if (isQueueNotFound(error)) return 0;
    log.warn(`could not read ${POISON_QUEUE_NAME}: ${errorLine(error)}`);
    return undefined;
  }
}
