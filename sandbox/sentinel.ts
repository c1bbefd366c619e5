import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { loadDetectionRule, type DetectionRule } from "../functions/detection/rule";
import {
  ALERT_TABLE,
  INGESTION_TIME_COLUMN,
  validateAlertRows,
  type AlertRow,
} from "../functions/incidents/alertRows";

// What Microsoft Sentinel would make of the rows the playbook ingests, for `npm start`: the DCR
// (rows checked against the table's columns, TimeGenerated stamped), then the analytics rule
// (one alert per row not yet alerted, at most 150 per run, entities, custom details and the
// alert-details override), then incident grouping (alerts with the same grouping custom details
// form one incident). It reads the rule from the files infra/modules/sentinel-rule.bicep deploys
// (infra/sentinel/analytics-rule.json and .kql, functions/detection/nbtscan.yaml), never a copy.
// It is a model of the documented behaviour for trying the product, not Sentinel.

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
  };
  groupByCustomDetails: string[];
  /** Constant columns the rule's query adds with `extend Name = "literal"`. */
  queryConstants: Record<string, string>;
  /** Rows the rule's query keeps per run (its `take`). */
  maxAlertsPerRun: number;
}

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
}

export interface SimulatedIncident {
  /** The grouping custom details' values, e.g. the IncidentKey. */
  groupedBy: Record<string, string>;
  title: string;
  severity: string;
  alerts: SimulatedAlert[];
  /** The entities of all its alerts, each once. */
  entities: SimulatedEntity[];
}

/** The repository's infra/: sources run from sandbox/, the build from dist/sandbox/. */
function infraDir(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) {
    dir = path.dirname(dir);
  }
  return path.join(dir, "infra");
}

/** Loads the analytics rule from the files the Bicep deploys. */
export function loadSentinelRule(
  dir: string = infraDir(),
  detection: DetectionRule = loadDetectionRule(),
): SentinelRuleDefinition {
  const rule = JSON.parse(
    readFileSync(path.join(dir, "sentinel", "analytics-rule.json"), "utf8"),
  ) as Omit<SentinelRuleDefinition, "displayName" | "tactics" | "techniques"> & {
    incidentConfiguration: { groupingConfiguration: { groupByCustomDetails: string[] } };
  };
  const query = readFileSync(path.join(dir, "sentinel", "analytics-rule.kql"), "utf8");
  const queryConstants: Record<string, string> = {};
  for (const extend of query.matchAll(/^\|\s*extend\s+(.+)$/gm)) {
    for (const assignment of extend[1].matchAll(/(\w+)\s*=\s*"([^"]*)"/g)) {
      queryConstants[assignment[1]] = assignment[2];
    }
  }
  const take = /^\|\s*take\s+(\d+)/m.exec(query);
  return {
    // As sentinel-rule.bicep maps nbtscan.yaml onto the rule.
    displayName: detection.name,
    tactics: detection.tactics.map((t) => t.name),
    techniques: detection.relevantTechniques.map((t) => t.id),
    entityMappings: rule.entityMappings,
    customDetails: rule.customDetails,
    alertDetailsOverride: rule.alertDetailsOverride,
    groupByCustomDetails: rule.incidentConfiguration.groupingConfiguration.groupByCustomDetails,
    queryConstants,
    maxAlertsPerRun: take ? Number(take[1]) : Number.POSITIVE_INFINITY,
  };
}

type TableRow = Record<string, unknown>;

const SEVERITY_ORDER = ["High", "Medium", "Low", "Informational"];

function cell(row: TableRow, column: string): string {
  const value = row[column];
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
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

function uniqueEntities(entities: SimulatedEntity[]): SimulatedEntity[] {
  const seen = new Map<string, SimulatedEntity>();
  for (const entity of entities) {
    const key =
      `${entity.type}:${JSON.stringify(Object.entries(entity.identifiers).sort())}`.toLowerCase();
    if (!seen.has(key)) seen.set(key, entity);
  }
  return [...seen.values()];
}

/** The table, the rule's state and its incidents, across ingestions and runs. */
export class SentinelSimulation {
  /** Rows as stored: the DCR stamped TimeGenerated. */
  readonly table: TableRow[] = [];
  readonly alerts: SimulatedAlert[] = [];
  readonly incidents = new Map<string, SimulatedIncident>();
  private readonly alertedEventKeys = new Set<string>();

  constructor(private readonly rule: SentinelRuleDefinition = loadSentinelRule()) {}

  /** The DCR: rows that do not fit the table's stream are refused, as a 400 would. */
  ingest(rows: unknown, at: Date = new Date()): number {
    const valid = validateAlertRows(rows, `ingestion into ${ALERT_TABLE.name}`);
    for (const row of valid) {
      this.table.push({ ...row, [INGESTION_TIME_COLUMN]: at.toISOString() });
    }
    return valid.length;
  }

  /** One run of the analytics rule: alerts for rows no alert carries yet, then grouping. */
  runRule(): SimulatedAlert[] {
    const fresh: TableRow[] = [];
    const seen = new Set<string>();
    for (const row of this.table) {
      const key = cell(row, "EventKey");
      // summarize arg_min(TimeGenerated, *) by EventKey, then leftanti against SecurityAlert.
      if (seen.has(key) || this.alertedEventKeys.has(key)) continue;
      seen.add(key);
      fresh.push({ ...row, ...this.rule.queryConstants });
    }
    const made = fresh.slice(0, this.rule.maxAlertsPerRun).map((row) => this.alert(row));
    for (const alert of made) {
      this.alertedEventKeys.add(alert.customDetails.EventKey?.[0] ?? "");
      this.alerts.push(alert);
      this.group(alert);
    }
    return made;
  }

  private alert(row: TableRow): SimulatedAlert {
    const override = this.rule.alertDetailsOverride;
    return {
      name: format(override.alertDisplayNameFormat, row) || this.rule.displayName,
      severity: cell(row, override.alertSeverityColumnName),
      description: format(override.alertDescriptionFormat, row),
      tactics: this.rule.tactics,
      techniques: this.rule.techniques,
      entities: entitiesOf(row, this.rule.entityMappings),
      // Sentinel gives every custom detail as an array of the values of its column.
      customDetails: Object.fromEntries(
        Object.entries(this.rule.customDetails).map(([key, column]) => [key, [cell(row, column)]]),
      ),
    };
  }

  private group(alert: SimulatedAlert): void {
    const groupedBy = Object.fromEntries(
      this.rule.groupByCustomDetails.map((key) => [key, alert.customDetails[key]?.[0] ?? ""]),
    );
    const key = JSON.stringify(groupedBy);
    const incident = this.incidents.get(key);
    if (incident === undefined) {
      // The first alert names the incident.
      this.incidents.set(key, {
        groupedBy,
        title: alert.name,
        severity: alert.severity,
        alerts: [alert],
        entities: uniqueEntities(alert.entities),
      });
      return;
    }
    incident.alerts.push(alert);
    incident.entities = uniqueEntities([...incident.entities, ...alert.entities]);
    // An incident is as severe as its most severe alert.
    if (SEVERITY_ORDER.indexOf(alert.severity) < SEVERITY_ORDER.indexOf(incident.severity)) {
      incident.severity = alert.severity;
    }
  }
}

/** Rows as the function sent them (for tests and printing). */
export type { AlertRow };
