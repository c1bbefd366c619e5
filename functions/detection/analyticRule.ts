// The checks a Microsoft Sentinel scheduled analytic rule file (Azure-Sentinel detection template
// YAML) must pass, written from the rules of the Azure-Sentinel repository's template check
// (.script/tests/detectionTemplateSchemaValidation): the structure in analytic-rule.schema.json,
// and here what a schema cannot say, with the tables in analytic-rule.facts.json.
import { isoDurationMs } from "../config/duration";
import { compileSchema, SchemaValidationError } from "../validation";
import facts from "./analytic-rule.facts.json";
import analyticRuleSchema from "./analytic-rule.schema.json";

/** An entity mapping of an analytic rule: which result columns fill which entity identifiers. */
export interface EntityMapping {
  entityType: string;
  fieldMappings: { identifier: string; columnName: string }[];
}

/** Alert properties a rule takes from result columns instead of its own metadata. */
export interface AlertDetailsOverride {
  alertDisplayNameFormat?: string;
  alertDescriptionFormat?: string;
  alertTacticsColumnName?: string;
  alertSeverityColumnName?: string;
  alertDynamicProperties?: { alertProperty: string; value: string }[];
}

/**
 * A Sentinel analytic rule (Scheduled or NRT), as its YAML file states it
 * (analytic-rule.schema.json): the shape the Azure-Sentinel repository publishes, or a workspace
 * export written as YAML.
 */
export interface AnalyticRule {
  id: string;
  name: string;
  description: string;
  severity: "Informational" | "Low" | "Medium" | "High";
  requiredDataConnectors: { connectorId: string; dataTypes: string[] }[];
  /** <number><m|h|d> (5m, 1h, 1d) or ISO 8601 (PT5M); a Scheduled rule's, never an NRT rule's. */
  queryFrequency?: string;
  queryPeriod?: string;
  triggerOperator?: string;
  triggerThreshold?: number;
  /** Sentinel tactic names, e.g. Discovery. */
  tactics: string[];
  /** ATT&CK technique ids, e.g. T1046 or T1059.001. */
  relevantTechniques: string[];
  query: string;
  entityMappings: EntityMapping[];
  customDetails?: Record<string, string>;
  alertDetailsOverride?: AlertDetailsOverride;
  version: string;
  kind: "Scheduled" | "NRT";
}

const validateStructure = compileSchema<AnalyticRule>(analyticRuleSchema, "analytic rule");

const MINUTE_MS = 60_000;
const UNIT_MS: Record<string, number> = { m: MINUTE_MS, h: 60 * MINUTE_MS, d: 24 * 60 * MINUTE_MS };
// RangeTimeSpanIsoFormat("00:05:00", "14.00:00:00") on queryFrequency and queryPeriod.
const MIN_DURATION_MS = 5 * MINUTE_MS;
const MAX_DURATION_MS = 14 * UNIT_MS.d;
// FrequencyLimitationForLongPeriodQuery: a period of 2 days or more needs a frequency of 1 hour or more.
const LONG_PERIOD_MS = 2 * UNIT_MS.d;
const LONG_PERIOD_MIN_FREQUENCY_MS = UNIT_MS.h;
// NewEntityMappingsAttribute: a query that still names a legacy entity column must map it.
const LEGACY_ENTITY_COLUMNS = [
  "AccountCustomEntity",
  "HostCustomEntity",
  "IPCustomEntity",
  "URLCustomEntity",
  "ProcessCustomEntity",
  "FileHashCustomEntity",
];

const techniqueTactics: Record<string, string[] | undefined> = facts.techniqueTactics;
const entityFacts: Record<
  string,
  { identifiers: string[]; requiredOneOf: string[][] } | undefined
> = facts.entities;

/**
 * Milliseconds of a template duration, as the schema's templateDuration: <number><m|h|d> (the
 * repository's spelling) or ISO 8601 (ARM's, PT1H); NaN for anything else.
 */
export function templateDurationMs(text: string): number {
  const short = /^(\d+)([mhd])$/.exec(text);
  if (short) return Number(short[1]) * UNIT_MS[short[2]];
  return isoDurationMs(text) ?? Number.NaN;
}

function durationProblems(rule: AnalyticRule): string[] {
  // An NRT rule has no schedule (the schema lets it omit both).
  if (rule.queryFrequency === undefined || rule.queryPeriod === undefined) return [];
  const problems: string[] = [];
  for (const field of ["queryFrequency", "queryPeriod"] as const) {
    const text = rule[field] ?? "";
    const ms = templateDurationMs(text);
    if (ms < MIN_DURATION_MS || ms > MAX_DURATION_MS) {
      problems.push(`/${field} '${text}' must be between 5m and 14d`);
    }
  }
  const frequency = templateDurationMs(rule.queryFrequency);
  const period = templateDurationMs(rule.queryPeriod);
  if (period < frequency) {
    problems.push(
      `/queryPeriod '${rule.queryPeriod}' must be at least queryFrequency '${rule.queryFrequency}'`,
    );
  }
  if (period >= LONG_PERIOD_MS && frequency < LONG_PERIOD_MIN_FREQUENCY_MS) {
    problems.push(
      `/queryFrequency '${rule.queryFrequency}' must be 1h or more when queryPeriod is 2d or more`,
    );
  }
  return problems;
}

function techniqueProblems(rule: AnalyticRule): string[] {
  return rule.relevantTechniques.flatMap((technique, i) => {
    // A sub-technique is checked as its technique (T1059.001 as T1059).
    const tactics = techniqueTactics[technique.split(".")[0]] ?? [];
    if (tactics.length === 0) {
      return [`/relevantTechniques/${i} '${technique}' is not a technique with a known tactic`];
    }
    const missing = tactics.filter((tactic) => !rule.tactics.includes(tactic));
    return missing.length === 0
      ? []
      : [
          `/relevantTechniques/${i} '${technique}' also belongs to ${missing.join(", ")}, which /tactics must list`,
        ];
  });
}

function entityProblems(rule: AnalyticRule): string[] {
  return rule.entityMappings.flatMap((mapping, i) => {
    const where = `/entityMappings/${i}`;
    const entity = entityFacts[mapping.entityType];
    if (entity === undefined) return []; // the schema's entityType enum has reported it
    const problems: string[] = [];
    const used = new Set<string>();
    mapping.fieldMappings.forEach(({ identifier }, j) => {
      if (!entity.identifiers.includes(identifier)) {
        problems.push(
          `${where}/fieldMappings/${j}/identifier '${identifier}' is not an identifier of ${mapping.entityType} (${entity.identifiers.join(", ")})`,
        );
      } else if (used.has(identifier)) {
        problems.push(`${where}/fieldMappings/${j}/identifier '${identifier}' is mapped twice`);
      }
      used.add(identifier);
    });
    if (!entity.requiredOneOf.some((combination) => combination.every((id) => used.has(id)))) {
      const options = entity.requiredOneOf.map((combination) => combination.join(" + "));
      problems.push(`${where} (${mapping.entityType}) must map one of: ${options.join("; ")}`);
    }
    return problems;
  });
}

function legacyColumnProblems(rule: AnalyticRule): string[] {
  const mapped = new Set(
    rule.entityMappings.flatMap((m) => m.fieldMappings.map((field) => field.columnName)),
  );
  return LEGACY_ENTITY_COLUMNS.filter(
    (column) => rule.query.includes(column) && !mapped.has(column),
  ).map(
    (column) => `/query names the legacy entity column ${column}, which /entityMappings must map`,
  );
}

// DictionaryMaxKeyAndValueLengths(maxKeyLength: 20) and DictionaryKeyMatchesRegex on customDetails.
const CUSTOM_DETAIL_KEY = /^[a-zA-Z]\w{0,19}$/;

function customDetailProblems(rule: AnalyticRule): string[] {
  return Object.keys(rule.customDetails ?? {})
    .filter((key) => !CUSTOM_DETAIL_KEY.test(key))
    .map(
      (key) =>
        `/customDetails key '${key}' must be at most 20 characters: a letter, then letters, digits or _`,
    );
}

/**
 * Every reason the parsed YAML document is not a valid Sentinel scheduled analytic rule
 * template, one line each naming where ("/field ..."); empty when it is one.
 */
export function checkAnalyticRule(document: unknown): string[] {
  let rule: AnalyticRule;
  try {
    rule = validateStructure(document);
  } catch (error) {
    if (error instanceof SchemaValidationError) return error.problems;
    throw error;
  }
  return [
    ...durationProblems(rule),
    ...techniqueProblems(rule),
    ...entityProblems(rule),
    ...legacyColumnProblems(rule),
    ...customDetailProblems(rule),
  ];
}

/** The document as an AnalyticRule, or a SchemaValidationError listing every problem. */
export function parseAnalyticRule(document: unknown, source: string): AnalyticRule {
  const problems = checkAnalyticRule(document);
  if (problems.length > 0) throw new SchemaValidationError(`analytic rule (${source})`, problems);
  return document as AnalyticRule;
}

/** The fields of a rule the engine carries as they are (the loader's LoadedRule starts with them). */
export type RuleFields = Pick<
  AnalyticRule,
  | "id"
  | "name"
  | "description"
  | "severity"
  | "version"
  | "kind"
  | "requiredDataConnectors"
  | "tactics"
  | "relevantTechniques"
  | "entityMappings"
  | "alertDetailsOverride"
> & { originalQuery: string; customDetails: NonNullable<AnalyticRule["customDetails"]> };

/** A rule's RuleFields: its own, the query as written, no custom details as an empty map. */
export function ruleFieldsOf(rule: AnalyticRule): RuleFields {
  return {
    id: rule.id,
    name: rule.name,
    description: rule.description,
    severity: rule.severity,
    version: rule.version,
    kind: rule.kind,
    requiredDataConnectors: rule.requiredDataConnectors,
    tactics: rule.tactics,
    relevantTechniques: rule.relevantTechniques,
    originalQuery: rule.query,
    entityMappings: rule.entityMappings,
    customDetails: rule.customDetails ?? {},
    alertDetailsOverride: rule.alertDetailsOverride,
  };
}
