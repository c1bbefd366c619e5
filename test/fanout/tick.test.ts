// The tick's own logic with queue clients that fail on purpose: one rule's message that cannot be
// sent keeps none of the others from being sent, and a poison queue that cannot be read never
// stops the tick.
import { RestError } from "@azure/core-rest-pipeline";
import type { QueueClient } from "@azure/storage-queue";
import { parseMessage } from "../../functions/fanout/message";
import type { DetectionQueues } from "../../functions/fanout/queues";
import type { DetectionRunner } from "../../functions/fanout/runner";
import { POISON_WARNING, reportPoison, tick } from "../../functions/fanout/tick";
import type { RunLog } from "../../functions/run/runLog";

interface Logged {
  level: string;
  message: string;
}

function recorder(): { log: RunLog; lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (message: string) => lines.push({ level, message });
  return { log: { info: at("info"), warn: at("warn"), error: at("error") }, lines };
}

const runner = (ids: string[]): DetectionRunner => ({
  ruleIds: () => ids,
  services: [],
  runOne: () => Promise.reject(new Error("the tick runs nothing")),
});

/** A work queue that refuses messages for `failing` rule ids, and records the others. */
function workQueue(failing: string[]): { queue: QueueClient; sent: string[] } {
  const sent: string[] = [];
  const queue = {
    name: "detection-runs",
    sendMessage(text: string) {
      const parsed = parseMessage(Buffer.from(text, "base64").toString("utf8"));
      const ruleId = "ruleId" in parsed ? parsed.ruleId : "?";
      if (failing.includes(ruleId)) {
        return Promise.reject(
          new RestError("The server is busy", { statusCode: 503, code: "ServerBusy" }),
        );
      }
      sent.push(ruleId);
      return Promise.resolve({});
    },
  } as unknown as QueueClient;
  return { queue, sent };
}

function poisonQueue(options: { count?: number; texts?: string[]; fails?: boolean }): QueueClient {
  return {
    name: "detection-runs-poison",
    getProperties: () =>
      options.fails
        ? Promise.reject(new RestError("forbidden", { statusCode: 403 }))
        : Promise.resolve({ approximateMessagesCount: options.count ?? 0 }),
    peekMessages: () =>
      Promise.resolve({
        peekedMessageItems: (options.texts ?? []).map((messageText) => ({ messageText })),
      }),
  } as unknown as QueueClient;
}

function queues(work: QueueClient, poison: QueueClient): DetectionQueues {
  return { work, poison, url: new URL("https://st.queue.core.windows.net"), settings: "X" };
}

const encoded = (ruleId: string): string =>
  Buffer.from(
    JSON.stringify({ ruleId, enqueuedAt: "2026-11-25T12:00:00.000Z", tickId: "t0" }),
  ).toString("base64");

describe("tick", () => {
  it("sends every other rule's message when one cannot be sent, then fails naming that rule", async () => {
    const { queue, sent } = workQueue(["b"]);
    const { log, lines } = recorder();
    await expect(
      tick(runner(["a", "b", "c"]), queues(queue, poisonQueue({})), {
        tickId: "t1",
        now: () => new Date("2026-11-25T12:00:00Z"),
        log,
      }),
    ).rejects.toThrow(
      /could not enqueue 1 detection\(s\) on detection-runs: b \(The server is busy\)/,
    );
    expect(sent).toEqual(["a", "c"]);
    expect(lines).toEqual([
      {
        level: "info",
        message: expect.stringMatching(/enqueued 2 detection\(s\) .*\(tick t1\): a, c$/) as unknown,
      },
    ]);
  });

  it("reads a poison queue it cannot reach as one warning, never a failed tick", async () => {
    const { queue, sent } = workQueue([]);
    const { log, lines } = recorder();
    const result = await tick(runner(["a"]), queues(queue, poisonQueue({ fails: true })), {
      tickId: "t2",
      now: () => new Date(),
      log,
    });
    expect(sent).toEqual(["a"]);
    expect(result.poisoned).toBeUndefined();
    expect(lines.filter((l) => l.level === "warn")).toEqual([
      {
        level: "warn",
        message: expect.stringMatching(
          /^could not read detection-runs-poison: forbidden/,
        ) as unknown,
      },
    ]);
  });

  it("names the rules of the poison messages it peeked, and says when there are more", async () => {
    const { log, lines } = recorder();
    const texts = [encoded("a"), encoded("b"), encoded("a"), "%%%"];
    expect(await reportPoison(poisonQueue({ count: 40, texts }), log)).toBe(40);
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe("warn");
    expect(lines[0].message).toContain(
      `${POISON_WARNING}: 40 in detection-runs-poison; rules (the first 4): a x2, b x1, (unreadable message) x1.`,
    );
    expect(await reportPoison(poisonQueue({ count: 0 }), log)).toBe(0);
    expect(lines).toHaveLength(1);
  });
});
