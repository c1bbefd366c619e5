// What the fan-out needs from the engine, and nothing more: which detections there are, and a
// way to run one of them. The tick and the queue worker are written against this, so the engine
// can change (one detection today, a folder of them next) without touching the fan-out.
import type { ServiceEndpoint } from "../run/failureLine";
import { reportUnavailable, runDetectionById } from "../run/runAll";
import type { RunLog } from "../run/runLog";
import type { DetectionRuntime } from "../run/runtime";

/** What one run reports back: its summary as the completion line logs it. */
export interface RunOutcome {
  /** The run summary's JSON form (RunSummary.toJSON); `skipped` is set when a lease stopped it. */
  summary: Record<string, unknown>;
}

/** The detections a process can run, and a way to run one of them. */
export interface DetectionRunner {
  /** Rule ids of every loaded, runnable detection, in the order the tick enqueues them. */
  ruleIds(): readonly string[];
  /**
   * Runs one detection under its own lease and time budget (runDetection). Throws when the run
   * fails; a run another holds the lease for returns with `summary.skipped` set.
   */
  runOne(ruleId: string, log: RunLog): Promise<RunOutcome>;
  /** Where each service a run talks to is, for failure lines (failureLine). */
  readonly services: readonly ServiceEndpoint[];
  /** Logs one line per rule that did not load or does not run yet, naming it (runAll.ts). */
  reportUnavailable?(log: RunLog): void;
}

/**
 * The runner over every detection the runtime holds (nbtscan first): the tick enqueues each, the
 * worker runs the one its message names.
 */
export function runtimeRunner(runtime: DetectionRuntime): DetectionRunner {
  return {
    ruleIds: () => runtime.detections,
    services: runtime.services,
    reportUnavailable: (log) => reportUnavailable(runtime, log),
    async runOne(ruleId, log) {
      const { summary } = await runDetectionById(runtime, ruleId, log);
      return { summary: summary.toJSON() };
    },
  };
}
