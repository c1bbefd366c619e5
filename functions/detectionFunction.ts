import type { InvocationContext, Timer } from "@azure/functions";
import { loadConfig } from "./config/config";
import { failureLine } from "./run/failureLine";
import { runDetection } from "./run/runDetection";
import { RUN_COMPLETED, type RunLog } from "./run/runLog";
import { DetectionRuntime, type RuntimeOptions } from "./run/runtime";

export { FUNCTION_NAME } from "./run/runLog";

type Env = Readonly<Record<string, string | undefined>>;

function logTo(context: InvocationContext): RunLog {
  return {
    info: (message) => context.log(message),
    warn: (message) => context.warn(message),
    error: (message) => context.error(message),
  };
}

/**
 * Builds the timer handler. Configuration is validated on the first invocation and the SDK
 * clients are reused afterwards; a bad setting fails every run with a message naming it.
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
      const { summary } = await runDetection(await runtime.dependenciesFor(logTo(context)));
      context.log(`${RUN_COMPLETED} ${JSON.stringify(summary)}`);
    } catch (error) {
      // One line naming what failed (for a bad setting: each setting); the stack stays out.
      context.error(`nbtscan-detector run failed: ${failureLine(error, runtime?.services ?? [])}`);
      // Rethrown so the invocation counts as failed: the retry policy and the health alert see it.
      throw error;
    }
  };
}
