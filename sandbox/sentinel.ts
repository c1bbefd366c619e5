import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { isoDurationMs } from "../functions/config/duration";
import { loadDetectionRule, type DetectionRule } from "../functions/detection/rule";
import { readLetStrings, readLetTimespans } from "./kusto";
import {
  ALERT_TABLE,
  INGESTION_TIME_COLUMN,
  validateAlertRows,
  type AlertRow,
} from "../functions/incidents/alertRows";

// A local Microsoft Sentinel that keeps Sentinel's clock, for `npm start` and the tests: the DCR
// (rows checked against the table's columns, TimeGenerated stamped), rows that become queryable
// after an ingestion latency, the analytics rule run on its schedule over its fixed window,
// failed runs retried, the alerts a run makes published to SecurityAlert (queryable after their
// own latency), suppression, and incident grouping with its caps. It reads the rule from the
// files infra/modules/sentinel-rule.bicep deploys (infra/sentinel/analytics-rule.json and .kql,
// functions/detections/nbtscan.yaml), never a copy. Every latency comes from a seeded generator,
// so a failing scenario replays exactly.
//
// Where Microsoft documents a behaviour, the comment next to it names the page
// (learn.microsoft.com/azure/sentinel/<page>, source MicrosoftDocs/azure-docs
// articles/sentinel/<page>.md). Where it does not (the exact window formula, retry intervals,
// whether a retry reuses its window, SecurityAlert's latency, what suppression counts from),
// the behaviour is a setting (SentinelClockSettings) and the tests run the design across the
// plausible values. It is a model for trying and testing the product, not Sentinel.

const MINUTE_MS = 60_000;

/** One entity mapping of the rule: an entity type and the columns of its identifiers. */
export interface EntityMapping {
  entityType: string;
  fieldMappings: { identifier: string; columnName: string }[];
}

/** The parts of the analytics rule the simulation applies, as the Bicep deploys them. */
export interface SentinelRuleDefinition {
  displayName: string;
  tactics: string[];
  techniques: string[];
  entityMappings: EntityMapping[];
  customDetails: Record<string, string>;
  alertDetailsOverride: {
    alertDisplayNameFormat: string;
    alertDescriptionFormat: string;
    alertSeverityColumnName: string;
    alertTacticsColumnName?: string;
    alertDynamicProperties?: { alertProperty: string; value: string }[];
  };
  groupByCustomDetails: string[];
  /** Constant columns the rule's query adds with `extend Name = "literal"`. */
  queryConstants: Record<string, string>;
  /** Rows the rule's query keeps per run (its `take`). */
  maxAlertsPerRun: number;
  /** queryFrequency: the time between scheduled runs. */
  queryFrequencyMs: number;
  /** queryPeriod: the length of the window each run queries. */
  queryPeriodMs: number;
  /**
   * How far back the query reads rows (`let rowLookback = <timespan>`, `ago()` from the run's
   * execution); the whole queryPeriod when the query has no such let.
   */
  rowLookbackMs: number;
  /** suppressionDuration when suppressionEnabled, else 0. */
  suppressionMs: number;
  /** incidentConfiguration.groupingConfiguration.lookbackDuration. */
  groupingLookbackMs: number;
  /** Whether the query's SecurityAlert lookup keeps only this rule's alerts (AlertType). */
  readsOwnAlertsOnly: boolean;
}

/**
 * What the rule's query writes where sentinel-rule.bicep puts the deployed rule's id, so its
 * SecurityAlert lookup can keep this rule's alerts (SecurityAlert.AlertType: "Scheduled rule
 * alerts: taken from the rule ID", security-alert-schema).
 */
export const RULE_ID_PLACEHOLDER = "ANALYTICS_RULE_ID";

/** The id the simulation gives the rule (the deployed one is guid(workspace id, detection id)). */
export const SIMULATED_RULE_ID = "5e4d1c3b-0000-4000-8000-00000000a1e7";

/** An entity of an alert: its type and the identifiers that had a value. */
export interface SimulatedEntity {
  type: string;
  identifiers: Record<string, string>;
}

export interface SimulatedAlert {
  name: string;
  severity: string;
  description: string;
  tactics: string[];
  techniques: string[];
  entities: SimulatedEntity[];
  customDetails: Record<string, string[]>;
  /** SecurityAlert.TimeGenerated = ProcessingEndTime: when the run published it. */
  timeGenerated: string;
  /** The 150th alert of a run whose query returned more than 150 results: it stands for them all. */
  summary: boolean;
}

export interface SimulatedIncident {
  /** The grouping custom details' values, e.g. the IncidentKey. */
  groupedBy: Record<string, string>;
  title: string;
  severity: string;
  alerts: SimulatedAlert[];
  /** The entities of all its alerts, each once. */
  entities: SimulatedEntity[];
  /** When its first alert was published. */
  createdAt: string;
}

/** The repository's infra/: sources run from sandbox/, the build from dist/sandbox/. */
function infraDir(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) {
    dir = path.dirname(dir);
  }
  return path.join(dir, "infra");
}

function durationMs(text: string, what: string): number {
  const ms = isoDurationMs(text);
  if (ms === undefined) throw new Error(`analytics rule: ${what} '${text}' is not a duration`);
  return ms;
}

/**
 * Loads the analytics rule from the files the Bicep deploys: `dir` holds analytics-rule.json
 * and analytics-rule.kql (infra/sentinel by default; a test passes an older definition's).
 */
export function loadSentinelRule(
  dir: string = path.join(infraDir(), "sentinel"),
  detection: DetectionRule = loadDetectionRule(),
): SentinelRuleDefinition {
  const rule = JSON.parse(readFileSync(path.join(dir, "analytics-rule.json"), "utf8")) as Pick<
    SentinelRuleDefinition,
    "entityMappings" | "customDetails" | "alertDetailsOverride"
  > & {
    queryFrequency: string;
    queryPeriod: string;
    suppressionEnabled: boolean;
    suppressionDuration: string;
    incidentConfiguration: {
      groupingConfiguration: { groupByCustomDetails: string[]; lookbackDuration: string };
    };
  };
  const query = readFileSync(path.join(dir, "analytics-rule.kql"), "utf8");
  const queryConstants: Record<string, string> = {};
  for (const extend of query.matchAll(/^\|\s*extend\s+(.+)$/gm)) {
    for (const assignment of extend[1].matchAll(/(\w+)\s*=\s*"([^"]*)"/g)) {
      queryConstants[assignment[1]] = assignment[2];
    }
  }
  const take = /^\|\s*take\s+(\d+)/m.exec(query);
  const grouping = rule.incidentConfiguration.groupingConfiguration;
  return {
    // As sentinel-rule.bicep maps nbtscan.yaml onto the rule.
    displayName: detection.name,
    tactics: detection.loaded.tactics,
    techniques: detection.loaded.relevantTechniques,
    entityMappings: rule.entityMappings,
    customDetails: rule.customDetails,
    alertDetailsOverride: rule.alertDetailsOverride,
    groupByCustomDetails: grouping.groupByCustomDetails,
    queryConstants,
    maxAlertsPerRun: take ? Number(take[1]) : Number.POSITIVE_INFINITY,
    queryFrequencyMs: durationMs(rule.queryFrequency, "queryFrequency"),
    queryPeriodMs: durationMs(rule.queryPeriod, "queryPeriod"),
    rowLookbackMs:
      readLetTimespans(query).get("rowLookback") ?? durationMs(rule.queryPeriod, "queryPeriod"),
    suppressionMs: rule.suppressionEnabled
      ? durationMs(rule.suppressionDuration, "suppressionDuration")
      : 0,
    groupingLookbackMs: durationMs(grouping.lookbackDuration, "lookbackDuration"),
    // `let thisRuleId = "ANALYTICS_RULE_ID"`, read from the syntax tree.
    readsOwnAlertsOnly: readLetStrings(query).get("thisRuleId") === RULE_ID_PLACEHOLDER,
  };
}

/**
 * Sentinel's clock, and the behaviours no page pins down, as settings. Defaults are the
 * documented values where there is one, else the least favourable plausible value.
 */
export interface SentinelClockSettings {
  /** The rule's first scheduled time. */
  start: Date;
  /**
   * The window formula: a run scheduled at S queries (S − this − queryPeriod, S − this]. "Microsoft
   * Sentinel runs scheduled analytics rules on a five-minute delay from their scheduled time"
   * (scheduled-rules-overview, "Ingestion delay"); the exact formula is not documented (real
   * windows show in SentinelHealth's ExtendedProperties QueryStartTimeUTC/QueryEndTimeUTC,
   * health-table-reference). Default 5 minutes.
   */
  windowEndBeforeScheduleMs: number;
  /** How long after its scheduled time a run executes (the other reading of that sentence). */
  executionAfterScheduleMs: number;
  /**
   * Waits before the retries of a failed run. troubleshoot-analytics-rules, "Transient failure":
   * Sentinel "continues trying to execute the rule again after predetermined and ever-increasing
   * intervals, up to a point. After that, the rule will run again only at its next scheduled
   * time." The intervals are not documented; a retry due at or after the next run is dropped.
   */
  retryDelaysMs: number[];
  /** Whether a retry queries its failed run's window (true) or one computed from its own time. */
  retryReusesWindow: boolean;
  /**
   * What suppressionDuration counts from. The spec says only "to wait since last time this alert
   * rule been triggered" (securityinsights AlertRules.json, ScheduledAlertRuleProperties);
   * scheduled-rules-overview, "Suppression": the rule stops running for that time after it
   * generates an alert.
   */
  suppressionFrom: "scheduled" | "executed" | "published";
  /** From a run's execution to its alerts' publication (ProcessingEndTime), [min, max]. */
  publishDelayMs: [number, number];
  /** From publication until the alert's SecurityAlert record can be queried, [min, max]. */
  securityAlertLatencyMs: [number, number];
  /** From a row's TimeGenerated until it can be queried, [min, max], when ingest() is not told. */
  rowLatencyMs: [number, number];
  /** Seed of the generator every latency comes from. */
  seed: number;
}

export const DEFAULT_CLOCK: Omit<SentinelClockSettings, "start"> = {
  windowEndBeforeScheduleMs: 5 * MINUTE_MS,
  executionAfterScheduleMs: 0,
  retryDelaysMs: [1, 2, 4, 8].map((m) => m * MINUTE_MS),
  retryReusesWindow: true,
  suppressionFrom: "scheduled",
  publishDelayMs: [5_000, MINUTE_MS],
  // Not documented; the range: up to 10 minutes.
  securityAlertLatencyMs: [0, 10 * MINUTE_MS],
  rowLatencyMs: [20_000, 3 * MINUTE_MS],
  seed: 14,
};

/** mulberry32: a small seeded generator, so a scenario's latencies replay exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type TableRow = Record<string, unknown>;

interface StoredRow {
  row: TableRow;
  eventKey: string;
  timeGenerated: number;
  queryableAt: number;
}

interface SecurityAlertRecord {
  alert: SimulatedAlert;
  alertType: string;
  timeGenerated: number;
  queryableAt: number;
}

/** One scheduled run: what it did and when. */
export interface RuleRunRecord {
  scheduledAt: string;
  /** Executions tried, failed ones included. */
  attempts: string[];
  outcome: "succeeded" | "failed" | "suppressed";
  windowStart?: string;
  windowEnd?: string;
  results?: number;
  alerts?: number;
}

const SEVERITY_ORDER = ["High", "Medium", "Low", "Informational"];

/** Largest number of alerts one run makes (scheduled-rules-overview, "Event grouping"). */
export const MAX_ALERTS_PER_RUN = 150;
/** Largest number of alerts in one incident (scheduled-rules-overview, "Alert grouping"). */
export const MAX_ALERTS_PER_INCIDENT = 150;

function cell(row: TableRow, column: string): string {
  const value = row[column];
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * A list column as alert details override reads it: the tactics column and the Techniques dynamic
 * property take a comma-separated string (learn.microsoft.com/azure/sentinel/customize-alert-details:
 * "Tactic column" and "Alert properties > Techniques (Preview)"; alertRules 2025-09-01,
 * AlertDetailsOverride.alertTacticsColumnName and alertDynamicProperties[].alertProperty Techniques).
 * An empty cell leaves the rule's own list, as an override without a value does.
 */
function listCell(row: TableRow, column: string | undefined, otherwise: string[]): string[] {
  if (column === undefined) return otherwise;
  const items = cell(row, column)
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  return items.length > 0 ? items : otherwise;
}

/** Fills `{{Column}}` placeholders from the row, as alertDetailsOverride formats do. */
function format(template: string, row: TableRow): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, column: string) => cell(row, column));
}

function entitiesOf(row: TableRow, mappings: readonly EntityMapping[]): SimulatedEntity[] {
  return mappings.flatMap((mapping) => {
    const identifiers = Object.fromEntries(
      mapping.fieldMappings
        .map((f) => [f.identifier, cell(row, f.columnName)] as const)
        .filter(([, value]) => value !== ""),
    );
    // An entity whose identifying values are all empty is not created. A FileHash needs its
    // Value: the algorithm alone identifies nothing.
    const meaningful = Object.keys(identifiers).filter((id) => id !== "Algorithm");
    return meaningful.length > 0 ? [{ type: mapping.entityType, identifiers }] : [];
  });
}

const entityKeys = new WeakMap<SimulatedEntity, string>();

/** What makes two entities the same: type and identifiers, case aside. */
function entityKey(entity: SimulatedEntity): string {
  let key = entityKeys.get(entity);
  if (key === undefined) {
    key = `${entity.type}:${JSON.stringify(Object.entries(entity.identifiers).sort())}`;
    key = key.toLowerCase();
    entityKeys.set(entity, key);
  }
  return key;
}

function uniqueEntities(entities: SimulatedEntity[]): SimulatedEntity[] {
  const seen = new Map<string, SimulatedEntity>();
  for (const entity of entities) {
    const key = entityKey(entity);
    if (!seen.has(key)) seen.set(key, entity);
  }
  return [...seen.values()];
}

/** The table, SecurityAlert, the rule's schedule and its incidents, on a simulated clock. */
export class SentinelSimulation {
  /** Rows as stored: the DCR stamped TimeGenerated. */
  readonly table: TableRow[] = [];
  readonly alerts: SimulatedAlert[] = [];
  /** Incidents in the order they were created; one grouping key may have several (caps). */
  readonly incidents: SimulatedIncident[] = [];
  readonly runs: RuleRunRecord[] = [];
  readonly clock: SentinelClockSettings;
  private readonly stored: StoredRow[] = [];
  private readonly securityAlert: SecurityAlertRecord[] = [];
  private readonly incidentsByKey = new Map<string, SimulatedIncident[]>();
  private readonly failures: { from: number; to: number }[] = [];
  private readonly random: () => number;
  private nextSchedule: number;
  private suppressedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly rule: SentinelRuleDefinition = loadSentinelRule(),
    clock: Partial<SentinelClockSettings> = {},
  ) {
    this.clock = { ...DEFAULT_CLOCK, start: new Date(), ...clock };
    this.random = seededRandom(this.clock.seed);
    this.nextSchedule = this.clock.start.getTime();
  }

  /** A draw from [min, max] of the seeded generator. */
  draw([min, max]: readonly [number, number]): number {
    return min + Math.round(this.random() * (max - min));
  }

  /**
   * The DCR: rows that do not fit the table's stream are refused, as a 400 would; the rest get
   * TimeGenerated = `at` and become queryable `latencyMs` later (drawn when not given).
   */
  ingest(rows: unknown, at: Date = new Date(), latencyMs?: number): number {
    const valid = validateAlertRows(rows, `ingestion into ${ALERT_TABLE.name}`);
    for (const row of valid) {
      const stamped = { ...row, [INGESTION_TIME_COLUMN]: at.toISOString() };
      this.table.push(stamped);
      this.stored.push({
        row: stamped,
        eventKey: row.EventKey,
        timeGenerated: at.getTime(),
        queryableAt: at.getTime() + (latencyMs ?? this.draw(this.clock.rowLatencyMs)),
      });
    }
    return valid.length;
  }

  /** Every execution of the rule from `from` until `to` fails (a transient failure). */
  failBetween(from: Date, to: Date): void {
    this.failures.push({ from: from.getTime(), to: to.getTime() });
  }

  /** Runs every scheduled run due up to `until`, in order, with its retries and suppression. */
  advanceTo(until: Date): void {
    const frequency = this.rule.queryFrequencyMs;
    while (this.nextSchedule <= until.getTime()) {
      const scheduled = this.nextSchedule;
      this.nextSchedule += frequency;
      this.scheduledRun(scheduled, frequency);
    }
  }

  private scheduledRun(scheduled: number, frequency: number): void {
    const record: RuleRunRecord = {
      scheduledAt: new Date(scheduled).toISOString(),
      attempts: [],
      outcome: "failed",
    };
    this.runs.push(record);
    // scheduled-rules-overview, "Suppression": after it generates alerts, the rule stops running
    // for the suppression duration.
    if (scheduled < this.suppressedUntil) {
      record.outcome = "suppressed";
      return;
    }
    const first = scheduled + this.clock.executionAfterScheduleMs;
    let wait = 0;
    const attempts = [first];
    for (const delay of this.clock.retryDelaysMs) {
      wait += delay;
      // A rule never runs twice at once: retries stop where the next run begins.
      if (first + wait >= first + frequency) break;
      attempts.push(first + wait);
    }
    for (const executedAt of attempts) {
      record.attempts.push(new Date(executedAt).toISOString());
      if (this.failures.some((f) => executedAt >= f.from && executedAt < f.to)) continue;
      const windowAnchor =
        executedAt === first || this.clock.retryReusesWindow
          ? scheduled
          : executedAt - this.clock.executionAfterScheduleMs;
      const windowEnd = windowAnchor - this.clock.windowEndBeforeScheduleMs;
      const { results, made, publishedAt } = this.execute(executedAt, windowEnd);
      record.outcome = "succeeded";
      record.windowStart = new Date(windowEnd - this.rule.queryPeriodMs).toISOString();
      record.windowEnd = new Date(windowEnd).toISOString();
      record.results = results;
      record.alerts = made.length;
      if (made.length > 0 && this.rule.suppressionMs > 0) {
        const from = { scheduled, executed: executedAt, published: publishedAt }[
          this.clock.suppressionFrom
        ];
        this.suppressedUntil = from + this.rule.suppressionMs;
      }
      return;
    }
  }

  /**
   * One run of the analytics rule outside the schedule, executing at `at` over the window that
   * ends there: for trying the mappings. Rows must be queryable by then.
   */
  runRule(at: Date = new Date()): SimulatedAlert[] {
    return this.execute(at.getTime(), at.getTime()).made;
  }

  /**
   * The rule's query over one window, as analytics-rule.kql says (its semantics implemented
   * here: the KQL evaluator in sandbox/ covers per-event operators, not summarize or join), with
   * the parameters read from the rule's files: the query period applies to every table it reads
   * (scheduled-rules-overview, "Query scheduling": the lookback period is "the time period
   * covered by the query"); what is not yet ingested is not seen (ingestion-delay).
   */
  private execute(
    executedAt: number,
    windowEnd: number,
  ): { results: number; made: SimulatedAlert[]; publishedAt: number } {
    const windowStart = windowEnd - this.rule.queryPeriodMs;
    const visible = (timeGenerated: number, queryableAt: number): boolean =>
      queryableAt <= executedAt && timeGenerated > windowStart && timeGenerated <= windowEnd;
    // let alreadyAlerted = SecurityAlert | where AlertType endswith thisRuleId (when the query
    // has it) | extend EventKey = Custom Details' EventKey[0] | distinct EventKey
    const alerted = new Set(
      this.securityAlert
        .filter(
          (r) =>
            visible(r.timeGenerated, r.queryableAt) &&
            (!this.rule.readsOwnAlertsOnly || r.alertType.endsWith(SIMULATED_RULE_ID)),
        )
        .map((r) => r.alert.customDetails.EventKey?.[0] ?? "")
        .filter((key) => key !== ""),
    );
    // where TimeGenerated > ago(rowLookback) | summarize arg_min(TimeGenerated, *) by EventKey
    const rowsFrom = executedAt - this.rule.rowLookbackMs;
    const earliest = new Map<string, StoredRow>();
    for (const stored of this.stored) {
      if (!visible(stored.timeGenerated, stored.queryableAt)) continue;
      if (stored.timeGenerated <= rowsFrom) continue;
      const seen = earliest.get(stored.eventKey);
      if (seen === undefined || stored.timeGenerated < seen.timeGenerated) {
        earliest.set(stored.eventKey, stored);
      }
    }
    // join kind=leftanti alreadyAlerted on EventKey | order by TimeGenerated asc | take N
    const results = [...earliest.values()]
      .filter((stored) => !alerted.has(stored.eventKey))
      .sort((a, b) => a.timeGenerated - b.timeGenerated)
      .slice(0, this.rule.maxAlertsPerRun)
      .map((stored) => ({ ...stored.row, ...this.rule.queryConstants }));
    const publishedAt = executedAt + this.draw(this.clock.publishDelayMs);
    // triggerOperator GreaterThan, threshold 0: any result alerts.
    const made = this.alertsFor(results, new Date(publishedAt).toISOString());
    for (const alert of made) {
      this.alerts.push(alert);
      // security-alert-schema: for scheduled rule alerts ProcessingEndTime (publishing time) is
      // TimeGenerated; AlertType is taken from the rule id. When the record becomes queryable is
      // not documented (SecurityAlertLatency setting).
      this.securityAlert.push({
        alert,
        alertType: SIMULATED_RULE_ID,
        timeGenerated: publishedAt,
        queryableAt: publishedAt + this.draw(this.clock.securityAlertLatencyMs),
      });
    }
    // scheduled-rules-overview, "Alert grouping": the incident is created once all the run's
    // alerts are generated.
    for (const alert of made) this.group(alert, publishedAt);
    return { results: results.length, made, publishedAt };
  }

  /**
   * AlertPerResult (scheduled-rules-overview, "Event grouping"): one alert per result, at most
   * 150 per run; past 150 results the first 149 each make one and the 150th summarises them all,
   * as "Group all events into a single alert" would.
   */
  private alertsFor(results: TableRow[], timeGenerated: string): SimulatedAlert[] {
    if (results.length <= MAX_ALERTS_PER_RUN) {
      return results.map((row) => this.alert([row], timeGenerated));
    }
    return [
      ...results.slice(0, MAX_ALERTS_PER_RUN - 1).map((row) => this.alert([row], timeGenerated)),
      this.alert(results, timeGenerated),
    ];
  }

  private alert(rows: TableRow[], timeGenerated: string): SimulatedAlert {
    const override = this.rule.alertDetailsOverride;
    const row = rows[0];
    return {
      name: format(override.alertDisplayNameFormat, row) || this.rule.displayName,
      severity: cell(row, override.alertSeverityColumnName),
      description: format(override.alertDescriptionFormat, row),
      tactics: listCell(row, override.alertTacticsColumnName, this.rule.tactics),
      techniques: listCell(
        row,
        override.alertDynamicProperties?.find((p) => p.alertProperty === "Techniques")?.value,
        this.rule.techniques,
      ),
      entities: uniqueEntities(rows.flatMap((r) => entitiesOf(r, this.rule.entityMappings))),
      // Sentinel gives every custom detail as an array of the values of its column.
      customDetails: Object.fromEntries(
        Object.entries(this.rule.customDetails).map(([key, column]) => [
          key,
          rows.map((r) => cell(r, column)),
        ]),
      ),
      timeGenerated,
      summary: rows.length > 1,
    };
  }

  /**
   * Grouping by the selected custom details (scheduled-rules-overview, "Alert grouping"): an
   * alert joins the incident of its key whose first alert is within the lookback; an incident
   * holds at most 150 alerts, past that a new incident with the same details takes the rest.
   */
  private group(alert: SimulatedAlert, at: number): void {
    const groupedBy = Object.fromEntries(
      this.rule.groupByCustomDetails.map((key) => [key, alert.customDetails[key]?.[0] ?? ""]),
    );
    const key = JSON.stringify(groupedBy);
    const sameKey = this.incidentsByKey.get(key) ?? [];
    const incident = sameKey.at(-1);
    if (
      incident === undefined ||
      at - Date.parse(incident.createdAt) > this.rule.groupingLookbackMs ||
      incident.alerts.length >= MAX_ALERTS_PER_INCIDENT
    ) {
      // The first alert names the incident.
      const created: SimulatedIncident = {
        groupedBy,
        title: alert.name,
        severity: alert.severity,
        alerts: [alert],
        entities: uniqueEntities(alert.entities),
        createdAt: alert.timeGenerated,
      };
      this.incidents.push(created);
      this.incidentsByKey.set(key, [...sameKey, created]);
      return;
    }
    incident.alerts.push(alert);
    const known = new Set(incident.entities.map(entityKey));
    incident.entities.push(...alert.entities.filter((e) => !known.has(entityKey(e))));
    // An incident is as severe as its most severe alert.
    if (SEVERITY_ORDER.indexOf(alert.severity) < SEVERITY_ORDER.indexOf(incident.severity)) {
      incident.severity = alert.severity;
    }
  }

  /** When each row was first ingested (TimeGenerated), by EventKey. */
  firstIngested(): Map<string, number> {
    const first = new Map<string, number>();
    for (const stored of this.stored) {
      const seen = first.get(stored.eventKey);
      if (seen === undefined || stored.timeGenerated < seen) {
        first.set(stored.eventKey, stored.timeGenerated);
      }
    }
    return first;
  }
}

/** What a simulation delivered, against what it should have: one alert per EventKey, and so on. */
export interface DeliveryReport {
  rows: number;
  eventKeys: number;
  alerts: number;
  /** Alerts beyond the first for an EventKey. */
  duplicateAlerts: number;
  /** EventKeys with more than one alert. */
  duplicatedEventKeys: number;
  /** EventKeys no alert carries. */
  missedEventKeys: number;
  summaryAlerts: number;
  incidents: number;
  /** Grouping keys (IncidentKeys) with more than one incident. */
  splitIncidentKeys: number;
  /** Row ingested (TimeGenerated) to its first alert in an incident, in minutes. */
  latencyMinutes: { median: number; p95: number; max: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Counts a simulation's alerts and incidents against its rows (for tests and `npm start`). */
export function deliveryReport(sentinel: SentinelSimulation): DeliveryReport {
  const firstIngested = sentinel.firstIngested();
  const alertsPerKey = new Map<string, number>();
  const firstAlert = new Map<string, number>();
  for (const alert of sentinel.alerts) {
    if (alert.summary) continue;
    const key = alert.customDetails.EventKey?.[0] ?? "";
    alertsPerKey.set(key, (alertsPerKey.get(key) ?? 0) + 1);
    if (!firstAlert.has(key)) firstAlert.set(key, Date.parse(alert.timeGenerated));
  }
  const incidentsPerKey = new Map<string, number>();
  for (const incident of sentinel.incidents) {
    const key = JSON.stringify(incident.groupedBy);
    incidentsPerKey.set(key, (incidentsPerKey.get(key) ?? 0) + 1);
  }
  const latencies = [...firstAlert.entries()]
    .map(([key, at]) => (at - (firstIngested.get(key) ?? at)) / MINUTE_MS)
    .sort((a, b) => a - b);
  const round = (n: number): number => Math.round(n * 10) / 10;
  return {
    rows: sentinel.table.length,
    eventKeys: firstIngested.size,
    alerts: sentinel.alerts.length,
    duplicateAlerts: [...alertsPerKey.values()].reduce((sum, n) => sum + n - 1, 0),
    duplicatedEventKeys: [...alertsPerKey.values()].filter((n) => n > 1).length,
    missedEventKeys: [...firstIngested.keys()].filter((key) => !alertsPerKey.has(key)).length,
    summaryAlerts: sentinel.alerts.filter((a) => a.summary).length,
    incidents: sentinel.incidents.length,
    splitIncidentKeys: [...incidentsPerKey.values()].filter((n) => n > 1).length,
    latencyMinutes: {
      median: round(percentile(latencies, 50)),
      p95: round(percentile(latencies, 95)),
      max: round(latencies.at(-1) ?? Number.NaN),
    },
  };
}

/** Rows as the function sent them (for tests and printing). */
export type { AlertRow };
