// The worker's handling of a message without a queue: what it logs and whether it throws.
import { ConfigError } from "../../functions/config/configError";
import { encodeMessage } from "../../functions/fanout/message";
import type { DetectionRunner } from "../../functions/fanout/runner";
import { GOING_TO_POISON, handleMessage, MAX_DEQUEUE_COUNT } from "../../functions/fanout/worker";
import { RUN_COMPLETED, type RunLog } from "../../functions/run/runLog";

const RULE = "6f0c1d1e-3b7a-4f55-9a8e-5d1c0b8a9e21";
const entry = JSON.parse(
  Buffer.from(
    encodeMessage({ ruleId: RULE, enqueuedAt: "2026-11-25T12:00:00.000Z", tickId: "t" }),
    "base64",
  ).toString("utf8"),
) as unknown;

function recorder(): { log: RunLog; lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => lines.push({ level, message });
  return { log: { info: at("info"), warn: at("warn"), error: at("error") }, lines };
}

describe("queue worker", () => {
  it("fails an attempt on a bad setting, naming the rule and the setting; the last attempt says it goes to the poison queue", async () => {
    const broken = (): DetectionRunner => {
      throw new ConfigError(["RUN_BUDGET is 'PT1H', too long; expected PT30S to PT9M."]);
    };
    for (const attempt of [1, MAX_DEQUEUE_COUNT]) {
      const { log, lines } = recorder();
      await expect(
        handleMessage(entry, { dequeueCount: attempt, id: "m1" }, broken, log),
      ).rejects.toThrow(ConfigError);
      expect(lines).toHaveLength(1);
      expect(lines[0].level).toBe("error");
      expect(lines[0].message).toContain(`rule ${RULE}`);
      expect(lines[0].message).toContain("RUN_BUDGET");
      expect(lines[0].message.startsWith(GOING_TO_POISON)).toBe(attempt === MAX_DEQUEUE_COUNT);
    }
  });

  it("logs the completion line with the rule and the attempt, read from text metadata too", async () => {
    const runner: DetectionRunner = {
      ruleIds: () => [RULE],
      services: [],
      runOne: () => Promise.resolve({ summary: { new: 0 } }),
    };
    const { log, lines } = recorder();
    const outcome = await handleMessage(entry, { dequeueCount: "2" }, () => runner, log);
    expect(outcome).toEqual({ kind: "ran", ruleId: RULE, summary: { new: 0 } });
    expect(lines).toEqual([
      { level: "info", message: `${RUN_COMPLETED} {"ruleId":"${RULE}","attempt":2,"new":0}` },
    ]);
  });
});
