// host.json's queue settings against what the fan-out's code assumes of them.
import { readFileSync } from "node:fs";
import path from "node:path";
import { isoDurationMs } from "../../functions/config/duration";
import { SETTINGS } from "../../functions/config/settings";
import { MESSAGE_TTL_SECONDS } from "../../functions/fanout/tick";
import { MAX_DEQUEUE_COUNT } from "../../functions/fanout/worker";

interface HostJson {
  functionTimeout: string;
  extensions: {
    queues: {
      maxDequeueCount: number;
      visibilityTimeout: string;
      batchSize: number;
      newBatchThreshold: number;
      messageEncoding: string;
    };
  };
}

const host = JSON.parse(
  readFileSync(path.resolve(__dirname, "../../host.json"), "utf8"),
) as HostJson;
const queues = host.extensions.queues;

/** host.json TimeSpan (hh:mm:ss) in milliseconds. */
function timeSpanMs(value: string): number {
  const match = /^(\d{2}):(\d{2}):(\d{2})$/.exec(value);
  if (!match) throw new Error(`not a hh:mm:ss TimeSpan: ${value}`);
  return ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3])) * 1000;
}

describe("host.json extensions.queues", () => {
  it("moves a message to the poison queue after the attempts the worker counts", () => {
    expect(queues.maxDequeueCount).toBe(MAX_DEQUEUE_COUNT);
  });

  it("decodes base64, the encoding the tick sends", () => {
    expect(queues.messageEncoding).toBe("base64");
  });

  it("gives each instance one run at a time, so Flex Consumption scales out one instance per waiting detection", () => {
    // Target-based scaling: desired instances = queue length / batchSize (functions-target-based-
    // scaling, "Storage Queues"); at most batchSize + newBatchThreshold run at once per instance.
    expect(queues.batchSize).toBe(1);
    expect(queues.newBatchThreshold).toBe(0);
  });

  it("lets a failing message reach the poison queue before its time to live ends", () => {
    // Worst case: every attempt runs until functionTimeout, each retry waits visibilityTimeout.
    const attempts = queues.maxDequeueCount * timeSpanMs(host.functionTimeout);
    const waits = (queues.maxDequeueCount - 1) * timeSpanMs(queues.visibilityTimeout);
    expect(attempts + waits).toBeLessThanOrEqual(MESSAGE_TTL_SECONDS * 1000);
  });

  it("waits between retries, yet retries within about one schedule period", () => {
    const wait = timeSpanMs(queues.visibilityTimeout);
    expect(wait).toBeGreaterThan(0);
    const schedule = SETTINGS.find((s) => s.name === "DETECTION_SCHEDULE");
    // Default every 5 minutes: the four waits of one message end before the next tick's message.
    expect(schedule && "default" in schedule ? schedule.default : "").toBe("0 */5 * * * *");
    expect((queues.maxDequeueCount - 1) * wait).toBeLessThanOrEqual(5 * 60_000);
  });

  it("lets the longest run budget end before the host's functionTimeout", () => {
    const budget = SETTINGS.find((s) => s.name === "RUN_BUDGET");
    const max = budget && "range" in budget ? isoDurationMs(budget.range.max) : undefined;
    expect(max).toBeDefined();
    expect(max ?? Infinity).toBeLessThan(timeSpanMs(host.functionTimeout));
  });
});
