import type { DetectionConfig } from "../config/config";
import type { DetectionRule } from "../detection/rule";
import type { PlaybookClient } from "../delivery/playbookClient";
import { enrichHit } from "../enrich/enrich";
import { buildIncident } from "../incidents/buildIncident";
import { groupHits } from "../incidents/group";
import type { IncidentPayload } from "../incidents/payload";
import { validateIncidentPayload } from "../incidents/payload";
import type { DetectionEvent, EnrichedHit, SuppressedHit } from "../model";
import { queryDetection, type DetectionQuery } from "../query/detectionQuery";
import { planQuery } from "../query/window";
import {
  ledgerRecordsOf,
  type LedgerRecord,
  type OutboxRecord,
  type StateStore,
} from "../state/stateStore";
import { applyExclusions, type ExclusionSet } from "../triage/exclusions";
import { annotateBenign, type BenignScenario } from "../triage/scenarios";
import { deliverOutbox, type DeliveryCounts } from "./deliverOutbox";
import type { RunLog } from "./runLog";
import { RunSummary } from "./summary";

/** Everything one run talks to; I/O lives behind these, the logic between them is pure. */
export interface RunDependencies {
  config: DetectionConfig;
  rule: DetectionRule;
  query: DetectionQuery;
  state: StateStore;
  /** Undefined for a dry run: query and build incidents, record and post nothing. */
  playbook: PlaybookClient | undefined;
  scenarios: BenignScenario[];
  exclusions: ExclusionSet;
  now: () => Date;
  log: RunLog;
  runId: string;
}

/** The outcome of a run: its summary, and the incidents it built (what a dry run prints). */
export interface RunResult {
  summary: RunSummary;
  incidents: IncidentPayload[];
}

/** One detection cycle: query → dedupe → enrich → group → record → deliver. */
export async function runDetection(deps: RunDependencies): Promise<RunResult> {
  const { config, state, log } = deps;
  const startedAt = deps.now();
  const summary = new RunSummary(deps.runId, startedAt, deps.playbook === undefined);

  // Incidents earlier runs recorded but could not deliver go first.
  if (deps.playbook) {
    const leftovers = await state.pendingOutbox();
    await state.repairLedger(leftovers);
    summary.retried = await deliverOutbox(leftovers, deps.playbook, state, log);
  }

  const watermark = await state.readWatermark();
  const plan = planQuery({ watermark: watermark.value, now: startedAt, ...config });
  if (!plan) return { summary: summary.finish(), incidents: [] };
  summary.window = plan.window;
  if (plan.coverageGap)
    log.warn(`watermark ${watermark.value?.toISOString()} is older than LOOKBACK`);

  const result = await queryDetection(deps.query, plan);
  summary.recordQuery(result);

  const hits = uniqueByKey(result.events.map((e) => enrich(e, deps)));
  const seen = await state.seenEventKeys(hits.map((h) => ledgerKey(h)));
  const fresh = hits.filter((h) => !seen.has(h.key));
  summary.duplicates = hits.length - fresh.length;

  const { kept, suppressed, coveringEverything } = applyExclusions(fresh, deps.exclusions);
  // With a single hit "every hit" says nothing about an exclusion's breadth.
  for (const name of fresh.length > 1 ? coveringEverything : []) {
    log.warn(`exclusion '${name}' suppressed every new hit of this run; check it is not too broad`);
  }
  summary.recordSuppressed(suppressed);

  const incidents = groupHits(kept, config.grouping).map((group) =>
    validateIncidentPayload(
      buildIncident(group, {
        rule: deps.rule,
        workspaceId: config.workspaceId,
        grouping: config.grouping,
        severityPolicy: config.severityPolicy,
        scenarios: deps.scenarios,
      }),
    ),
  );
  summary.newHits = kept.length;
  summary.incidents = incidents.length;
  if (!deps.playbook) return { summary: summary.finish(), incidents };

  // Durable first: a crash from here on loses nothing, and a repeat post reuses the same id.
  const outbox = incidents.map((payload) => outboxRecord(payload, deps.runId, startedAt));
  await state.record(outbox, ledgerRecords(outbox, suppressed, deps.runId));
  await state.advanceWatermark(plan.window.end, watermark);
  summary.watermark = plan.window.end;

  const delivered: DeliveryCounts = await deliverOutbox(outbox, deps.playbook, state, log);
  summary.recordDelivery(delivered);
  return { summary: summary.finish(), incidents };
}

function enrich(event: DetectionEvent, deps: RunDependencies): EnrichedHit {
  return enrichHit(event, deps.rule, (e) => annotateBenign(e, deps.scenarios));
}

// Split windows never overlap, but a row returned twice must still count once.
function uniqueByKey(hits: EnrichedHit[]): EnrichedHit[] {
  return [...new Map(hits.map((h) => [h.key, h])).values()];
}

function ledgerKey(hit: EnrichedHit): { eventKey: string; timestamp: string } {
  return { eventKey: hit.key, timestamp: hit.event.Timestamp };
}

function outboxRecord(payload: IncidentPayload, runId: string, createdAt: Date): OutboxRecord {
  return {
    incidentId: payload.incidentId,
    payload,
    runId,
    createdAt: createdAt.toISOString(),
    status: "pending",
    attempts: 0,
  };
}

function ledgerRecords(
  outbox: OutboxRecord[],
  suppressed: SuppressedHit[],
  runId: string,
): LedgerRecord[] {
  const fromSuppressed = suppressed.map(({ hit, exclusion }) => ({
    eventKey: hit.key,
    timestamp: hit.event.Timestamp,
    deviceName: hit.event.DeviceName,
    runId,
    disposition: "suppressed" as const,
    exclusion,
  }));
  return [...outbox.flatMap(ledgerRecordsOf), ...fromSuppressed];
}
