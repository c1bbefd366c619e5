import { isoDurationMs } from "../config/duration";
import { SchemaValidationError } from "../validation";
import type { TableSchema } from "../../sandbox/kusto";
import { toEngineQuery } from "./engineQuery";
import type { ClassifiedRule } from "./loadedRule";
import { checkSentinelRule, columnsNamedByRule, type SentinelRule } from "./sentinelRule";

// Limits of Sentinel's own scheduled rules, kept so that a rule that runs here also deploys
// there: a query of at most 10,000 characters and a lookback (queryPeriod) of at most 14 days
// (learn.microsoft.com/azure/sentinel/create-analytics-rules, "Query scheduling" and the rule
// query field).
export const MAX_QUERY_LENGTH = 10_000;
export const MAX_QUERY_PERIOD_MS = 14 * 86_400_000;
/** Rule kinds whose query Sentinel runs on a schedule over raw rows. */
const RUNNABLE_KINDS = new Set(["Scheduled", "NRT"]);
/** "Alert when the number of results is greater than 0": Azure-Sentinel's and ARM's spellings. */
const GREATER_THAN = new Set(["gt", "GreaterThan"]);

const KUSTO_TIMESPAN_UNITS_MS: Record<string, number> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A rule's queryFrequency or queryPeriod in milliseconds: the Azure-Sentinel repository writes
 * them as Kusto timespans ("5m", "1h", "14d"), ARM exports as ISO 8601 ("PT1H"). Undefined when
 * it is neither.
 */
export function ruleDurationMs(text: string): number | undefined {
  const short = /^(\d+)([mhd])$/.exec(text.trim());
  if (short) return Number(short[1]) * KUSTO_TIMESPAN_UNITS_MS[short[2]];
  return isoDurationMs(text.trim());
}

function metadataRefusal(rule: SentinelRule): string | undefined {
  if (!RUNNABLE_KINDS.has(rule.kind)) return `kind ${rule.kind} is not a scheduled query rule`;
  if (rule.query.length > MAX_QUERY_LENGTH) {
    return `its query has ${rule.query.length} characters, over ${MAX_QUERY_LENGTH}`;
  }
  for (const key of ["queryFrequency", "queryPeriod"] as const) {
    const value = rule[key];
    if (value !== undefined && ruleDurationMs(value) === undefined) {
      return `${key} '${value}' is not a duration`;
    }
  }
  const period = rule.queryPeriod === undefined ? undefined : ruleDurationMs(rule.queryPeriod);
  if (period !== undefined && period > MAX_QUERY_PERIOD_MS) {
    return `queryPeriod ${rule.queryPeriod} is over 14 days`;
  }
  const operator = rule.triggerOperator ?? "gt";
  const threshold = rule.triggerThreshold ?? 0;
  if (!GREATER_THAN.has(operator) || threshold !== 0) {
    return `it alerts on '${operator} ${threshold}' results, a count over the result, not each event`;
  }
  return undefined;
}

/**
 * Checks one parsed rule document and classifies it: runs as is, adapted (with its query
 * rewritten into the engine's shape) or refused with a one-line reason.
 */
export function classifyRule(
  file: string,
  document: unknown,
  tables: readonly TableSchema[],
): ClassifiedRule {
  let rule: SentinelRule;
  try {
    rule = checkSentinelRule(document, file);
  } catch (error) {
    if (!(error instanceof SchemaValidationError)) throw error;
    const head = document as { id?: unknown; name?: unknown } | null;
    return {
      ruleClass: "refused",
      file,
      id: typeof head?.id === "string" ? head.id : undefined,
      name: typeof head?.name === "string" ? head.name : undefined,
      reason: `not a Sentinel analytic rule: ${error.problems.join("; ")}`,
    };
  }
  const refused = (reason: string): ClassifiedRule => ({
    ruleClass: "refused",
    file,
    id: rule.id,
    name: rule.name,
    reason,
  });

  const metadataProblem = metadataRefusal(rule);
  if (metadataProblem) return refused(metadataProblem);

  const engine = toEngineQuery(rule.query, tables);
  if (!engine.ok) return refused(engine.reason);

  const declared = new Set(rule.requiredDataConnectors.flatMap((c) => c.dataTypes));
  const undeclared = engine.tables.filter((t) => !declared.has(t));
  if (undeclared.length > 0) {
    return refused(`requiredDataConnectors do not cover ${undeclared.join(", ")}`);
  }
  for (const { column, where } of columnsNamedByRule(rule)) {
    if (!engine.columns.includes(column)) {
      return refused(`${where} names ${column}, which the query does not produce`);
    }
  }

  return {
    ruleClass: engine.changes.length > 0 ? "adapted" : "runs as is",
    file,
    id: rule.id,
    name: rule.name,
    description: rule.description,
    severity: rule.severity,
    version: rule.version,
    tactics: rule.tactics ?? [],
    relevantTechniques: rule.relevantTechniques ?? [],
    queryFrequencyMs: rule.queryFrequency ? ruleDurationMs(rule.queryFrequency) : undefined,
    queryPeriodMs: rule.queryPeriod ? ruleDurationMs(rule.queryPeriod) : undefined,
    tables: engine.tables,
    originalQuery: rule.query,
    query: engine.query,
    changes: engine.changes,
    columns: engine.columns,
    entityMappings: rule.entityMappings ?? [],
    customDetails: rule.customDetails ?? {},
    alertDetailsOverride: rule.alertDetailsOverride,
  };
}
