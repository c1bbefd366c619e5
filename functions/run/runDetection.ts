import type { DetectionConfig } from "../config/config";
import { yieldToEventLoop } from "../concurrency";
import type { DetectionRule } from "../detection/rule";
import type { PlaybookClient } from "../delivery/playbookClient";
import { enrichHit } from "../enrich/enrich";
import { buildIncidentParts } from "../incidents/buildIncident";
import { groupHits } from "../incidents/group";
import {
  toPayload,
  validateIncidentPayload,
  type IncidentPayload,
  type IncidentRecord,
} from "../incidents/payload";
import type { DetectionEvent, EnrichedHit, IngestionWindow, SuppressedHit } from "../model";
import { queryDetection, type DetectionQuery } from "../query/detectionQuery";
import { checkTableLiveness } from "../query/tableLiveness";
import { extendCoverage, planQuery, type QueryPass, type QueryPlan } from "../query/window";
import { LeaseHeldError, type Lease } from "../state/lease";
import {
  ledgerRecordsOf,
  type LedgerRecord,
  type OutboxRecord,
  type StateStore,
  type Watermark,
} from "../state/stateStore";
import { applyExclusions, type ExclusionSet } from "../triage/exclusions";
import { annotateBenign, type BenignScenario } from "../triage/scenarios";
import { CLOSING_RESERVE_MS, RunBudget } from "./budget";
import { addCounts, CircuitBreaker, deliverOutbox, NO_DELIVERIES } from "./deliverOutbox";
import { processableEvents } from "./quarantine";
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
  /** When the run started, if before runDetection (reading the exclusions): its budget counts from it. */
  startedAt?: Date;
  now: () => Date;
  log: RunLog;
  runId: string;
}

/** The outcome of a run: its summary, and (for a dry run) the incidents it built. */
export interface RunResult {
  summary: RunSummary;
  incidents: IncidentPayload[];
}

/** What the stages of one real run share. */
interface Run extends RunDependencies {
  playbook: PlaybookClient;
  concurrency: number;
  summary: RunSummary;
  budget: RunBudget;
  breaker: CircuitBreaker;
  lease: Lease;
}

/**
 * Incidents are built, recorded and posted a chunk at a time, so memory stays bounded by the
 * chunk. A stored incident is up to 960 KiB (its evidence and events; budget.ts) and lives as
 * objects, JSON and a table entity at once, so a chunk holds at most 2,000 hits; a chunk is
 * large enough that partial transactions at its edges stay few (5,000 and 10,000 saved a few
 * requests in 150 for 10k hits, at 60 to 90 MB more peak memory).
 */
const INCIDENTS_PER_CHUNK = 1000;
const EVENTS_PER_CHUNK = 2000;
/**
 * Hits one sub-window holds in memory; a larger backlog takes several, the watermark after each.
 * Its events, hits and one query answer are what a run holds at once (about 5 KB a hit).
 */
const HITS_PER_SUBWINDOW = 10_000;
/** Hits enriched and looked up in the ledger at a time, yielding to the event loop between. */
const HITS_PER_CHUNK = 5000;
/** While more remains to record, posts start only while this share of the budget is left. */
const RECORDING_SHARE = 0.25;
/** The lease outlasts the budget by this, so a crashed run's lease lapses soon after it died. */
const LEASE_GRACE_MS = 2 * 60_000;

/**
 * One detection cycle: query → dedupe → enrich → group → record → deliver. The run first takes
 * the detection's lease (another run holding it makes this one stop, cleanly), records new hits
 * before it spends time on older undelivered incidents, and stops starting work before its
 * budget runs out.
 */
export async function runDetection(deps: RunDependencies): Promise<RunResult> {
  const startedAt = deps.startedAt ?? deps.now();
  const summary = new RunSummary(deps.runId, startedAt, deps.playbook === undefined, {
    id: deps.rule.id,
    name: deps.rule.name,
  });
  if (!deps.playbook) return dryRun(deps, summary);
  const budget = new RunBudget(deps.now, deps.config.runBudgetMs, startedAt);

  let grant;
  try {
    grant = await deps.state.acquireLease({
      owner: deps.runId,
      mode: "routine",
      durationMs: budget.totalMs + LEASE_GRACE_MS,
      now: deps.now,
    });
  } catch (error) {
    if (!(error instanceof LeaseHeldError)) throw error;
    // Said once, by whoever reports the summary (the CLI's line, the function's completion log).
    summary.skipped = error.message;
    return { summary: summary.finish(), incidents: [] };
  }
  const run: Run = {
    ...deps,
    playbook: deps.playbook,
    concurrency: deps.config.deliveryConcurrency,
    summary,
    budget,
    breaker: new CircuitBreaker(),
    lease: grant.lease,
  };

  await holding(run, async () => {
    if (!(await movedLegacyState(run))) return;
    summary.tablesLastIngested = await checkTableLiveness(deps);
    if (grant.previousEndedUncleanly) await repairAfterCrash(run);
    const watermarks = await deps.state.readWatermarks();
    const routine = await detectNewHits(run, "routine", watermarks.routine);
    await catchUp(run, routine, watermarks.catchup);
    await applyRetention(run);
    summary.retried = await deliverLeftovers(run);
    summary.breakerOpened = run.breaker.open;
  });
  return { summary: summary.finish(), incidents: [] };
}

const DAY_MS = 24 * 60 * 60_000;
/** Retention runs about this often (its time is kept in the lease row). */
const RETENTION_INTERVAL_MS = 60 * 60_000;

/**
 * Deletes ledger days past LOOKBACK + 1 day, and delivery-log and quarantined rows older than
 * DELIVERED_RETENTION, about once an hour.
 */
async function applyRetention(run: Run): Promise<void> {
  const now = run.now();
  const last = run.lease.retainedAt;
  if (last && now.getTime() - last.getTime() < RETENTION_INTERVAL_MS) return;
  const { budget } = run;
  const result = await run.state.applyRetention(now, {
    ledgerMs: run.config.lookbackMs + DAY_MS,
    deliveredMs: run.config.deliveredRetentionMs,
    stop: () => budget.nearlySpent(CLOSING_RESERVE_MS + budget.totalMs * RECORDING_SHARE),
  });
  run.summary.retention = {
    ledgerRows: result.ledgerRows,
    deliveryLogRows: result.deliveryLogRows,
    quarantineRows: result.quarantineRows,
  };
  if (result.complete) run.lease.retainedAt = now;
}

/** Runs `work` holding the lease, and releases it after, without hiding the work's own error. */
async function holding(run: Run, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    await run.lease.release().catch((releaseError: unknown) => {
      run.log.warn(`could not release the lease: ${String(releaseError)}`);
    });
    throw error;
  }
  await run.lease.release();
}

/**
 * Moves the detection's state written before state was kept per detection into its own
 * partitions (state/legacyMigration.ts). False while that is not done: the run does nothing else.
 */
async function movedLegacyState(run: Run): Promise<boolean> {
  const { budget } = run;
  const outcome = await run.state.migrateLegacy({
    owner: run.runId,
    durationMs: budget.totalMs + LEASE_GRACE_MS,
    now: run.now,
    stop: () => budget.nearlySpent(CLOSING_RESERVE_MS + budget.totalMs * RECORDING_SHARE),
    renew: () => run.lease.renewIfDue(),
  });
  if (outcome.status === "none") return true;
  if (outcome.status === "done") {
    run.log.info(`moved ${outcome.rows} row(s) of unscoped state into this detection's partitions`);
    return true;
  }
  run.summary.skipped =
    outcome.status === "waiting"
      ? `unscoped state not moved yet, this run did nothing: ${outcome.reason}`
      : `moving unscoped state into this detection's partitions: ${outcome.rows} row(s) this ` +
        "run; the detection runs once all have moved";
  return false;
}

/**
 * The previous run died without releasing its lease, maybe between writing incidents and their
 * ledger rows: write those rows again before anything reads the ledger.
 */
async function repairAfterCrash(run: Run): Promise<void> {
  for await (const page of run.state.pendingPages()) await run.state.repairLedger(page);
  run.summary.repaired = true;
}

/**
 * The catch-up pass (see query/window.ts), when it is due. It runs here, under the routine pass's
 * lease and after it, rather than on a timer of its own: the two passes must never work on the
 * same state at once (both would see a new hit before either recorded it: two incidents), and a
 * second timer would fire in the same minute as this one every hour. While the routine pass has
 * a backlog, or too little of the budget is left, it waits: it stays due, so it is never starved.
 */
async function catchUp(run: Run, routine: PassOutcome, watermark: Watermark): Promise<void> {
  if (watermark.value === undefined) {
    // The first catch-up starts where the routine pass's narrow timespans began: before this
    // run, every query read the whole lookback, as a fresh deployment's first window does.
    const start = routine.startedFrom ?? run.summary.watermark;
    if (start) await run.state.advanceWatermark(start, watermark, "catchup");
    return;
  }
  const { config, budget } = run;
  const reserve = config.queryTimeoutMs + CLOSING_RESERVE_MS + budget.totalMs * RECORDING_SHARE;
  if (run.summary.backlog || budget.nearlySpent(reserve)) return;
  await detectNewHits(run, "catchup", watermark, routine.watermark);
}

/** Where a pass started (its watermark before the run) and its watermark after it. */
interface PassOutcome {
  startedFrom: Date | undefined;
  watermark: Watermark;
}

/**
 * Queries a pass's window since its watermark and records every new hit, in ingestion-time
 * sub-windows when the backlog is larger than MAX_HITS_PER_RUN; the watermark moves after each.
 * The catch-up pass is given the routine pass's watermark, to leave out what that one covered.
 */
async function detectNewHits(
  run: Run,
  pass: QueryPass,
  stored?: Watermark,
  routine?: Watermark,
): Promise<PassOutcome> {
  const { config, summary, budget } = run;
  let watermark = stored ?? (await run.state.readWatermark(pass));
  const startedFrom = watermark.value;
  const now = summary.startedAt;
  const plan = planQuery({ ...config, pass, watermark: watermark.value, now, routine });
  if (!plan) return { startedFrom, watermark };
  const before = { newHits: summary.newHits, incidents: summary.incidents };
  if (pass === "routine") {
    summary.window = plan.window;
    summary.timespan = plan.timespan;
  } else {
    summary.catchUp = {
      window: plan.window,
      timespan: plan.timespan,
      watermark: undefined,
      rows: 0,
      requests: 0,
      scanned: undefined,
      newHits: 0,
      incidents: 0,
    };
  }
  if (plan.coverageGap) {
    run.log.warn(`${pass} watermark ${watermark.value?.toISOString()} is older than LOOKBACK`);
  }
  let window: IngestionWindow | undefined = plan.window;
  let allowance = config.maxHitsPerRun;
  // Retries of a throttled or timed-out request stay within the run's budget.
  const timeLeft = (): number => budget.remainingMs() - CLOSING_RESERVE_MS;
  // The first query always runs; a further sub-window only with time and hits to spare.
  while (window) {
    const startedMs = budget.remainingMs();
    const cap = Math.min(allowance, HITS_PER_SUBWINDOW);
    const result = await queryDetection(run.query, { ...plan, window }, cap, timeLeft);
    summary.recordQuery(result);
    const coveredUntil: Date = result.coveredUntil;
    const more: boolean = coveredUntil.getTime() < window.end.getTime();
    const events = await processableEvents(result, { ...run, record: true });
    if (!(await recordAndDeliver(events, run, more))) {
      // Out of time mid-way: the watermark stays, and the next run reads this sub-window again;
      // what was recorded is in the ledger, so it only records the rest.
      if (pass === "routine") summary.backlog = true;
      break;
    }
    watermark = await advance(run, { start: window.start, end: coveredUntil }, watermark, plan);
    summary.subWindows += 1;
    allowance -= result.events.length;
    window = more ? { start: coveredUntil, end: window.end } : undefined;
    // Another sub-window only if one like this one still fits in the budget. Safe to misjudge:
    // its query is cut to the time left, and its chunks stop at the closing reserve, leaving the
    // watermark where it was; what the next run delivers from the outbox waits, durable.
    const took = startedMs - budget.remainingMs();
    const timeForAnother = !budget.nearlySpent(took + CLOSING_RESERVE_MS);
    if (window && (allowance <= 0 || !timeForAnother)) {
      // A catch-up left unfinished stays due; only the routine pass reports a backlog.
      if (pass === "routine") summary.backlog = true;
      break;
    }
  }
  if (summary.catchUp && pass === "catchup") {
    summary.catchUp.newHits = summary.newHits - before.newHits;
    summary.catchUp.incidents = summary.incidents - before.incidents;
  }
  return { startedFrom, watermark };
}

/** Moves a pass's watermark past a completed window; the routine pass records what it read. */
async function advance(
  run: Run,
  completed: IngestionWindow,
  watermark: Watermark,
  { pass, timespan }: QueryPlan,
): Promise<Watermark> {
  const to = completed.end;
  await run.lease.renewIfDue();
  const coverage =
    pass === "routine"
      ? extendCoverage(watermark.coverage, completed, timespan.startTime)
      : undefined;
  const next = await run.state.advanceWatermark(to, watermark, pass, coverage);
  if (pass === "routine") run.summary.watermark = to;
  else if (run.summary.catchUp) run.summary.catchUp.watermark = to;
  return next;
}

/**
 * dedupe → enrich → group → record → deliver, for the events of one sub-window; false when the
 * budget ran out before every chunk was recorded.
 */
async function recordAndDeliver(
  events: DetectionEvent[],
  run: Run,
  moreToRecord: boolean,
): Promise<boolean> {
  const { kept, suppressed } = await newHitsOf(events, run, run.summary);
  const chunks = chunked(groupHits(kept, run.config.grouping));
  for (const [index, groups] of chunks.entries()) {
    // Each chunk is whole (its incidents and ledger rows); past the budget the rest waits.
    if (index > 0 && run.budget.nearlySpent(CLOSING_RESERVE_MS)) return false;
    run.summary.newHits += groups.reduce((n, group) => n + group.length, 0);
    const incidents = await buildIncidents(groups, run);
    // Durable first: a crash from here on loses nothing, and a repeat post reuses the same id.
    const outbox = incidents.map((p) => outboxRecord(p, run.runId, run.summary.startedAt));
    await run.lease.renewIfDue();
    await run.state.record(outbox, outbox.flatMap(ledgerRecordsOf));
    run.summary.incidents += outbox.length;
    // Posting yields to recording: while more is to be recorded, part of the budget stays for it.
    const last = !moreToRecord && index === chunks.length - 1;
    const reserve = CLOSING_RESERVE_MS + (last ? 0 : run.budget.totalMs * RECORDING_SHARE);
    run.summary.recordDelivery(await deliverOutbox(outbox, run, reserve));
  }
  await run.lease.renewIfDue();
  await run.state.record([], suppressedLedger(suppressed, run.runId));
  return true;
}

/** Cuts incidents (groups of hits) into chunks of at most INCIDENTS_PER_CHUNK or EVENTS_PER_CHUNK. */
function chunked(groups: EnrichedHit[][]): EnrichedHit[][][] {
  const chunks: EnrichedHit[][][] = [];
  let chunk: EnrichedHit[][] = [];
  let events = 0;
  for (const group of groups) {
    if (chunk.length === INCIDENTS_PER_CHUNK || events + group.length > EVENTS_PER_CHUNK) {
      chunks.push(chunk);
      chunk = [];
      events = 0;
    }
    chunk.push(group);
    events += group.length;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Incidents earlier runs (or this one) recorded and could not deliver, page by page. */
async function deliverLeftovers(run: Run): Promise<typeof NO_DELIVERIES> {
  let counts = { ...NO_DELIVERIES };
  for await (const page of run.state.pendingPages()) {
    // This run's own retry-later incidents come back too: their next attempt is the next run's.
    const due = page.filter((r) => r.runId !== run.runId || r.attempts === 0);
    if (run.breaker.open || run.budget.nearlySpent(CLOSING_RESERVE_MS)) break;
    counts = addCounts(counts, await deliverOutbox(due, run, CLOSING_RESERVE_MS));
  }
  return counts;
}

/**
 * Enriches the events, drops those the ledger has seen, and applies exclusions, a chunk at a
 * time so that timers and sockets get their turn between chunks.
 */
async function newHitsOf(
  events: DetectionEvent[],
  deps: RunDependencies,
  summary: RunSummary,
): Promise<{ kept: EnrichedHit[]; suppressed: SuppressedHit[] }> {
  const unique = new Map<string, EnrichedHit>();
  const fresh: EnrichedHit[] = [];
  for (let i = 0; i < events.length; i += HITS_PER_CHUNK) {
    const hits: EnrichedHit[] = [];
    for (const event of events.slice(i, i + HITS_PER_CHUNK)) {
      const hit = enrich(event, deps);
      // Split windows never overlap, but a row returned twice must still count once.
      if (unique.has(hit.key)) continue;
      unique.set(hit.key, hit);
      hits.push(hit);
    }
    const seen = await deps.state.seenEventKeys(
      hits.map((h) => ({ eventKey: h.key, timestamp: h.event.Timestamp })),
    );
    for (const hit of hits) if (!seen.has(hit.key)) fresh.push(hit);
    summary.duplicates += seen.size;
    await yieldToEventLoop();
  }
  const { kept, suppressed, coveringEverything } = applyExclusions(fresh, deps.exclusions);
  // With a single hit "every hit" says nothing about an exclusion's breadth.
  for (const name of fresh.length > 1 ? coveringEverything : []) {
    deps.log.warn(
      `exclusion '${name}' suppressed every new hit of this run; check it is not too broad`,
    );
  }
  summary.recordSuppressed(suppressed);
  return { kept, suppressed };
}

/**
 * The incidents of these groups, each checked as the playbook will receive it (with its alert
 * rows) and kept as the outbox stores it (without them).
 */
async function buildIncidents(
  groups: EnrichedHit[][],
  deps: RunDependencies,
): Promise<IncidentRecord[]> {
  const incidents: IncidentRecord[] = [];
  for (const group of groups) {
    // More than one part when the group's evidence does not fit one stored payload.
    const parts = buildIncidentParts(group, {
      rule: deps.rule,
      workspaceId: deps.config.workspaceId,
      grouping: deps.config.grouping,
      severityPolicy: deps.config.severityPolicy,
      scenarios: deps.scenarios,
    });
    for (const part of parts) {
      validateIncidentPayload(toPayload(part));
      incidents.push(part);
    }
    if (incidents.length % 50 === 0) await yieldToEventLoop();
  }
  return incidents;
}

/** Queries and builds incidents as a real run would; records and posts nothing. */
async function dryRun(deps: RunDependencies, summary: RunSummary): Promise<RunResult> {
  summary.tablesLastIngested = await checkTableLiveness(deps);
  const watermark = await deps.state.readWatermark();
  const plan: QueryPlan | undefined = planQuery({
    watermark: watermark.value,
    now: summary.startedAt,
    ...deps.config,
  });
  if (!plan) return { summary: summary.finish(), incidents: [] };
  summary.window = plan.window;
  summary.timespan = plan.timespan;
  const result = await queryDetection(deps.query, plan);
  summary.recordQuery(result);
  const events = await processableEvents(result, { ...deps, summary, record: false });
  const { kept } = await newHitsOf(events, deps, summary);
  const records = await buildIncidents(groupHits(kept, deps.config.grouping), deps);
  const incidents = records.map(toPayload);
  summary.newHits = kept.length;
  summary.incidents = incidents.length;
  return { summary: summary.finish(), incidents };
}

function enrich(event: DetectionEvent, deps: RunDependencies): EnrichedHit {
  return enrichHit(event, deps.rule, (e) => annotateBenign(e, deps.scenarios));
}

function outboxRecord(incident: IncidentRecord, runId: string, createdAt: Date): OutboxRecord {
  return {
    incidentId: incident.incidentId,
    incident,
    runId,
    createdAt: createdAt.toISOString(),
    status: "pending",
    attempts: 0,
  };
}

function suppressedLedger(suppressed: SuppressedHit[], runId: string): LedgerRecord[] {
  return suppressed.map(({ hit, exclusion }) => ({
    eventKey: hit.key,
    timestamp: hit.event.Timestamp,
    deviceName: hit.event.DeviceName,
    runId,
    disposition: "suppressed" as const,
    exclusion,
  }));
}
