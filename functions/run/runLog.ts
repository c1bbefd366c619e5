import type { InvocationContext } from "@azure/functions";

/** Where a run reports what happened: the Functions InvocationContext, or the console. */
export interface RunLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The RunLog of a Functions invocation: its context's log levels. */
export function logTo(context: InvocationContext): RunLog {
  return {
    info: (message) => context.log(message),
    warn: (message) => context.warn(message),
    error: (message) => context.error(message),
  };
}

/**
 * A RunLog that says each warning once: the detections one invocation runs in turn read the same
 * exclusions, and a bad watchlist row or an expired exclusion is one line, not one per detection.
 */
export function warningsOnce(log: RunLog): RunLog {
  const said = new Set<string>();
  return {
    info: (message) => log.info(message),
    warn: (message) => {
      if (said.has(message)) return;
      said.add(message);
      log.warn(message);
    },
    error: (message) => log.error(message),
  };
}

/** The prefix of the one structured line a successful run logs; the health alert looks for it. */
export const RUN_COMPLETED = "nbtscan-detector run completed";

/** The function's name in Azure; the health alert and the Bicep refer to it. */
export const FUNCTION_NAME = "nbtscanDetection";

/**
 * The prefix of the line a run logs for each Defender table that is silent or missing; the
 * data-liveness alert (infra/modules/health-alert.bicep) fires on it.
 */
export const DATA_SILENCE = "nbtscan-detector data silence";

/**
 * The prefix of the line logged, every run, for each rule that could not be loaded or cannot run
 * (it names the rule and the reason); the health alert fires on it.
 */
export const DETECTION_UNAVAILABLE = "nbtscan-detector detection unavailable";
