// The queue worker: one message, one detection run. A run that fails throws, so the host makes
// the message visible again and retries it; after maxDequeueCount attempts the host moves it to
// the poison queue, and the last attempt says so in one line naming the rule. A message that is
// not a detection request is dropped with one line naming it: retrying it could never succeed.
import { failureLine } from "../run/failureLine";
import { RUN_COMPLETED, type RunLog } from "../run/runLog";
import { isDetectionMessage, parseMessage, shownMessage } from "./message";
import { POISON_QUEUE_NAME } from "./queues";
import type { DetectionRunner } from "./runner";

/**
 * Attempts before the host moves a message to the poison queue. host.json sets
 * extensions.queues.maxDequeueCount to this (5, the documented default, written out so the two
 * cannot drift; test/fanout checks they agree).
 */
export const MAX_DEQUEUE_COUNT = 5;

/** The prefix of the line naming a message that is not a detection request. */
export const BAD_MESSAGE = "nbtscan-detector bad queue message";
/** The prefix of the line naming the rule whose message goes to the poison queue. */
export const GOING_TO_POISON = "nbtscan-detector run goes to the poison queue";

/** What the host tells the worker about the message besides its content. */
export interface MessageMetadata {
  /** How many times the message has been dequeued, this time included (1 on the first try). */
  dequeueCount?: unknown;
  id?: unknown;
}

/** What the worker did with a message. */
export type WorkerOutcome =
  | { kind: "ran"; ruleId: string; summary: Record<string, unknown> }
  | { kind: "dropped"; reason: string };

/** The dequeue count as a number; the worker reads it as trigger metadata (number or text). */
function attemptOf(metadata: MessageMetadata): number | undefined {
  const n = Number(metadata.dequeueCount);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Handles one message: runs the detection it names with the runner (built on first use, so a
 * bad setting fails the attempt like any other failure), under that detection's lease and
 * budget. Returns what it did; throws when the run failed, so the host retries the message.
 */
export async function handleMessage(
  entry: unknown,
  metadata: MessageMetadata,
  runner: () => DetectionRunner,
  log: RunLog,
): Promise<WorkerOutcome> {
  const parsed = parseMessage(entry);
  const id = typeof metadata.id === "string" ? ` ${metadata.id}` : "";
  if (!isDetectionMessage(parsed)) {
    const reason = `message${id} ${parsed.problem}: ${shownMessage(entry)}; dropped, not retried`;
    log.error(`${BAD_MESSAGE}: ${reason}`);
    return { kind: "dropped", reason };
  }
  const { ruleId } = parsed;
  const attempt = attemptOf(metadata);
  let built: DetectionRunner | undefined;
  try {
    built = runner();
    if (!built.ruleIds().includes(ruleId)) {
      // A rule removed or refused since the tick enqueued it: retrying cannot help.
      const reason = `message${id} names rule ${ruleId}, which this app does not run; dropped, not retried`;
      log.error(`${BAD_MESSAGE}: ${reason}`);
      return { kind: "dropped", reason };
    }
    const { summary } = await built.runOne(ruleId, log);
    log.info(
      `${RUN_COMPLETED} ${JSON.stringify({ ruleId, attempt: attempt ?? null, ...summary })}`,
    );
    return { kind: "ran", ruleId, summary };
  } catch (error) {
    const reason = failureLine(error, [...(built?.services ?? [])]);
    if (attempt !== undefined && attempt >= MAX_DEQUEUE_COUNT) {
      // The host moves the message to the poison queue when this invocation fails
      // (QueueProcessor.CompleteProcessingMessageAsync: DequeueCount >= MaxDequeueCount).
      log.error(
        `${GOING_TO_POISON}: rule ${ruleId} failed attempt ${attempt} of ${MAX_DEQUEUE_COUNT}; ` +
          `its message${id} goes to ${POISON_QUEUE_NAME}: ${reason}`,
      );
    } else {
      log.error(
        `nbtscan-detector run of rule ${ruleId} failed (attempt ${attempt ?? "?"} of ` +
          `${MAX_DEQUEUE_COUNT}; the message is retried): ${reason}`,
      );
    }
    throw error;
  }
}
