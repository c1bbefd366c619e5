import type { InvocationContext, Timer } from "@azure/functions";
import { loadConfig } from "./config/config";
import { failureLine } from "./run/failureLine";
import { reportUnavailable, ruleLabel, runAllDetections } from "./run/runAll";
import { logTo, RUN_COMPLETED } from "./run/runLog";
import { DetectionRuntime, type RuntimeOptions } from "./run/runtime";

export { FUNCTION_NAME } from "./run/runLog";

type Env = Readonly<Record<string, string | undefined>>;

/** A failure already logged with its detection's name: rethrown without a second line. */
class ReportedError extends Error {
  constructor(readonly cause: unknown) {
    super("reported");
  }
}

/**
 * Builds the timer handler. Configuration is validated on the first invocation and the SDK
 * clients are reused afterwards; a bad setting fails every run with a message naming it. Each
 * invocation runs every detection in order (nbtscan first), one after the other: a detection
 * that fails is logged by name and the others still run; the invocation then fails, so that its
 * retry and the health alert see it (state makes the retry safe for the detections that ran).
 */
export function createDetectionHandler(
  env: Env,
  options: Omit<RuntimeOptions, "host"> = {},
): (timer: Timer, context: InvocationContext) => Promise<void> {
  let runtime: DetectionRuntime | undefined;
  return async (timer, context) => {
    try {
      runtime ??= new DetectionRuntime(loadConfig(env), { ...options, host: "function" });
      if (timer.isPastDue) context.warn("timer is past due: the previous schedule slot was missed");
      const log = logTo(context);
      reportUnavailable(runtime, log);
      const outcomes = await runAllDetections(runtime, log);
      const failures: unknown[] = [];
      for (const outcome of outcomes) {
        if (outcome.ok) {
          context.log(`${RUN_COMPLETED} ${JSON.stringify(outcome.result.summary)}`);
          continue;
        }
        context.error(
          `nbtscan-detector run failed: ${failureLine(outcome.error, runtime.services)} ${ruleLabel(outcome)}`,
        );
        failures.push(outcome.error);
      }
      // One detection's error is rethrown as it is (its type and message), several as one.
      if (failures.length === 1) throw new ReportedError(failures[0]);
      if (failures.length > 1) {
        throw new ReportedError(
          new AggregateError(failures, `${failures.length} detections failed`),
        );
      }
    } catch (error) {
      if (error instanceof ReportedError) throw error.cause;
      // One line naming what failed (for a bad setting: each setting); the stack stays out.
      context.error(`nbtscan-detector run failed: ${failureLine(error, runtime?.services ?? [])}`);
      // Rethrown so the invocation counts as failed: the retry policy and the health alert see it.
      throw error;
    }
  };
}
