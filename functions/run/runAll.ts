// Running the detections of a runtime: one by id (what a queue worker will call, one message per
// detection; see functions/fanout/), or all of them in order, nbtscan first. A detection that
// fails, or a rule that could not be loaded, is reported by name and never stops the others.
import { runDetection, type RunResult } from "./runDetection";
import { DETECTION_UNAVAILABLE, warningsOnce, type RunLog } from "./runLog";
import type { DetectionRuntime } from "./runtime";

/** What running one detection came to: its result, or the error that ended its run. */
export type DetectionOutcome =
  | { ruleId: string; name: string; ok: true; result: RunResult }
  | { ruleId: string; name: string; ok: false; error: unknown };

/** Runs one detection, by rule id, under its own lease and budget; its summary names the rule. */
export async function runDetectionById(
  runtime: DetectionRuntime,
  ruleId: string,
  log: RunLog,
): Promise<RunResult> {
  return runDetection(await runtime.dependenciesFor(log, ruleId));
}

/** Logs one line per rule the runtime could not load, naming it: the health alert sees them. */
export function reportUnavailable(runtime: DetectionRuntime, log: RunLog): void {
  for (const rule of runtime.unavailable) {
    log.error(
      `${DETECTION_UNAVAILABLE}: '${rule.name}'${rule.id ? ` (${rule.id})` : ""}: ${rule.reason}`,
    );
  }
}

/**
 * Runs every detection of the runtime (or those of `ruleIds`) one after the other, each to its
 * end; a failed run is an outcome, not a throw, so the next detection still runs. A warning the
 * runs share (a bad exclusions watchlist row) is said once.
 */
export async function runAllDetections(
  runtime: DetectionRuntime,
  log: RunLog,
  ruleIds: readonly string[] = runtime.detections,
): Promise<DetectionOutcome[]> {
  const outcomes: DetectionOutcome[] = [];
  const once = warningsOnce(log);
  for (const ruleId of ruleIds) {
    const name = runtime.ruleOf(ruleId).name;
    try {
      outcomes.push({
        ruleId,
        name,
        ok: true,
        result: await runDetectionById(runtime, ruleId, once),
      });
    } catch (error) {
      outcomes.push({ ruleId, name, ok: false, error });
    }
  }
  return outcomes;
}

/** Which detection a line is about: "(detection 'nbtscan.exe ...', rule 6f0c...)". */
export function ruleLabel(rule: { name: string; ruleId?: string; id?: string }): string {
  return `(detection '${rule.name}', rule ${rule.ruleId ?? rule.id ?? ""})`;
}
