import {
  checkAnalyticRule,
  ruleFieldsOf,
  templateDurationMs,
  type AnalyticRule,
} from "../detection/analyticRule";
import type { TableSchema } from "../../sandbox/kusto";
import { toEngineQuery } from "./engineQuery";
import { livenessQueryFor } from "./livenessQuery";
import type { ClassifiedRule } from "./loadedRule";

// One schema for every rule file: functions/detection/analytic-rule.schema.json and the facts
// checkAnalyticRule applies (the Azure-Sentinel repository's template check). It already refuses
// what Sentinel itself would not deploy: a query over 10,000 characters, a queryPeriod outside
// 5 minutes to 14 days (learn.microsoft.com/azure/sentinel/create-analytics-rules, "Query
// scheduling"), a kind other than Scheduled or NRT. What is left here is what this engine needs
// beyond a valid rule: a per-event trigger, a per-event query, declared tables, named columns.

/** "Alert when the number of results is greater than 0": Azure-Sentinel's and ARM's spellings. */
const GREATER_THAN = new Set(["gt", "GreaterThan"]);

/**
 * A rule's queryFrequency or queryPeriod in milliseconds, in the repository's spelling ("5m",
 * "1h", "14d") or ARM's ("PT1H"); undefined when it is neither.
 */
export function ruleDurationMs(text: string): number | undefined {
  const ms = templateDurationMs(text.trim());
  return Number.isNaN(ms) ? undefined : ms;
}

function triggerRefusal(rule: AnalyticRule): string | undefined {
  const operator = rule.triggerOperator ?? "gt";
  const threshold = rule.triggerThreshold ?? 0;
  if (!GREATER_THAN.has(operator) || threshold !== 0) {
    return `it alerts on '${operator} ${threshold}' results, a count over the result, not each event`;
  }
  return undefined;
}

/** The result columns a rule's entity mappings, custom details and alert overrides name. */
export function columnsNamedByRule(rule: AnalyticRule): { column: string; where: string }[] {
  const named: { column: string; where: string }[] = [];
  for (const entity of rule.entityMappings) {
    for (const field of entity.fieldMappings) {
      named.push({ column: field.columnName, where: `entityMappings (${entity.entityType})` });
    }
  }
  for (const [key, column] of Object.entries(rule.customDetails ?? {})) {
    named.push({ column, where: `customDetails.${key}` });
  }
  const override = rule.alertDetailsOverride;
  if (override) {
    for (const key of ["alertTacticsColumnName", "alertSeverityColumnName"] as const) {
      const column = override[key];
      if (column) named.push({ column, where: `alertDetailsOverride.${key}` });
    }
    for (const p of override.alertDynamicProperties ?? []) {
      named.push({ column: p.value, where: `alertDetailsOverride ${p.alertProperty}` });
    }
    // `{{Column}}` placeholders in the display name and description formats.
    for (const key of ["alertDisplayNameFormat", "alertDescriptionFormat"] as const) {
      for (const match of (override[key] ?? "").matchAll(/\{\{([^{}]+)\}\}/g)) {
        named.push({ column: match[1].trim(), where: `alertDetailsOverride.${key}` });
      }
    }
  }
  return named;
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
  const problems = checkAnalyticRule(document);
  if (problems.length > 0) {
    const head = document as { id?: unknown; name?: unknown } | null;
    return {
      ruleClass: "refused",
      file,
      id: typeof head?.id === "string" ? head.id : undefined,
      name: typeof head?.name === "string" ? head.name : undefined,
      reason: `not a Sentinel analytic rule: ${problems.join("; ")}`,
    };
  }
  const rule = document as AnalyticRule;
  const refused = (reason: string): ClassifiedRule => ({
    ruleClass: "refused",
    file,
    id: rule.id,
    name: rule.name,
    reason,
  });

  const triggerProblem = triggerRefusal(rule);
  if (triggerProblem) return refused(triggerProblem);

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
    ...ruleFieldsOf(rule),
    queryFrequencyMs: rule.queryFrequency ? ruleDurationMs(rule.queryFrequency) : undefined,
    queryPeriodMs: rule.queryPeriod ? ruleDurationMs(rule.queryPeriod) : undefined,
    tables: engine.tables,
    livenessQuery: livenessQueryFor(engine.tables, tables),
    query: engine.query,
    changes: engine.changes,
    columns: engine.columns,
  };
}
