// What the fan-out needs from the engine, and nothing more: which detections there are, and a
// way to run one of them. The tick and the queue worker are written against this, so the engine
// can change (one detection today, a folder of them next) without touching the fan-out.
import type { ServiceEndpoint } from "../run/failureLine";
import { runDetection } from "../run/runDetection";
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
}

/**
 * The runner of today's engine, which holds one detection (runtime.rule). When the runtime holds
 * several, this is the one place to point at them.
 */
export function singleRuleRunner(runtime: DetectionRuntime): DetectionRunner {
  return {
    ruleIds: () => [runtime.rule.id],
    services: runtime.services,
    async runOne(ruleId, log) {
      if (ruleId !== runtime.rule.id) throw new Error(`no detection with rule id ${ruleId}`);
      const { summary } = await runDetection(await runtime.dependenciesFor(log));
      return { summary: summary.toJSON() };
    },
  };
}
