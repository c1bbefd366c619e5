import type { DetectionRule } from "../detection/rule";
import { explainedEvents } from "../enrich/enrich";
import type { DetectionEvent } from "../model";
import type { QuarantinedRow } from "../query/rows";
import type { StateStore } from "../state/stateStore";
import type { RunLog } from "./runLog";
import type { RunSummary } from "./summary";

/** What setting rows aside needs from the run. */
export interface QuarantineContext {
  rule: DetectionRule;
  state: StateStore;
  log: RunLog;
  runId: string;
  summary: RunSummary;
  /** False for a dry run: count and warn, record nothing. */
  record: boolean;
}

/**
 * The events of a query that the run can process. The rows the query could not read, and those
 * neither rule explains, are set aside (setAside), so they never hold back the rest of the window.
 */
export async function processableEvents(
  outcome: { events: DetectionEvent[]; quarantined: QuarantinedRow[] },
  run: QuarantineContext,
): Promise<DetectionEvent[]> {
  const explained = explainedEvents(outcome.events, run.rule);
  await setAside([...outcome.quarantined, ...explained.quarantined], run);
  return explained.events;
}

/** Reasons shown in the run's one warning; the state table has every row. */
const REASONS_SHOWN = 3;

/**
 * Sets aside the rows a run cannot process so the rest of the window proceeds: counts them in the
 * summary, logs one warning, and (unless it is a dry run) records each with its reason in the
 * state table before the watermark moves past it.
 */
export async function setAside(rows: QuarantinedRow[], run: QuarantineContext): Promise<void> {
  if (rows.length === 0) return;
  run.summary.quarantined += rows.length;
  const counts = new Map<string, number>();
  for (const { reason } of rows) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  const reasons = [...counts].slice(0, REASONS_SHOWN).map(([r, n]) => (n > 1 ? `${r} (x${n})` : r));
  const more =
    counts.size > REASONS_SHOWN ? `; and ${counts.size - REASONS_SHOWN} more reason(s)` : "";
  run.log.warn(
    `quarantined ${rows.length} row(s) the detection cannot process, skipped` +
      `${run.record ? ` and recorded in the state table (partition '${run.state.layout.quarantine}')` : ""}: ` +
      `${reasons.join("; ")}${more}`,
  );
  if (run.record) await run.state.recordQuarantine(rows, run.runId, run.summary.startedAt);
}
