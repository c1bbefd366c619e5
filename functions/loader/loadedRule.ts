import type { AlertDetailsOverride, AnalyticRule, EntityMapping } from "../detection/analyticRule";

/** How a rule fits the engine. */
export type RuleClass = "runs as is" | "adapted" | "refused";

/**
 * A rule the engine can run: its Sentinel metadata, the query in the engine's shape and what it
 * reads. This is what the loader hands the engine (the engine prepends the window lets with
 * functions/query/buildQuery.ts and runs it like nbtscan's query).
 */
export interface LoadedRule {
  ruleClass: "runs as is" | "adapted";
  /** The YAML file it came from. */
  file: string;
  id: string;
  name: string;
  description: string;
  severity: AnalyticRule["severity"];
  version: string;
  kind: AnalyticRule["kind"];
  requiredDataConnectors: AnalyticRule["requiredDataConnectors"];
  /** Sentinel tactic names (Discovery) and ATT&CK technique ids (T1046), as the YAML lists them. */
  tactics: string[];
  relevantTechniques: string[];
  /** How often and how far back Sentinel would run it, in milliseconds (NRT rules have none). */
  queryFrequencyMs?: number;
  queryPeriodMs?: number;
  /** The Device* tables its query reads. */
  tables: string[];
  /** The rule's query as written. */
  originalQuery: string;
  /** The query in the engine's shape: ingestion window, identifying columns, `top MaxRows`. */
  query: string;
  /** What the rewrite changed in the rule's own logic (empty when it runs as is). */
  changes: string[];
  /** The table-liveness query over `tables` (functions/loader/livenessQuery.ts). */
  livenessQuery: string;
  /** Columns of the engine query's result. */
  columns: string[];
  entityMappings: EntityMapping[];
  customDetails: Record<string, string>;
  alertDetailsOverride?: AlertDetailsOverride;
  /** The project-only side file keyed by the rule's id (benign scenarios, references...), if any. */
  projectData?: Record<string, unknown>;
}

/** A rule the engine will not run, and why in one line. */
export interface RefusedRule {
  ruleClass: "refused";
  file: string;
  id?: string;
  name?: string;
  reason: string;
}

/** What the loader made of one rule file. */
export type ClassifiedRule = LoadedRule | RefusedRule;
