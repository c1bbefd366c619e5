import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { DEFAULT_RULE_FILE, RULES_DIR, sideFileOf } from "../detections/folder";
import type { LoadedRule } from "../loader/loadedRule";
import { LIVENESS_TEMPLATE_FILE } from "../query/livenessTemplate";
import { compileSchema, SchemaValidationError } from "../validation";
import { parseAnalyticRule } from "./analyticRule";

/** An ATT&CK object (tactic, technique, software, group) as the rule metadata names it. */
export interface AttackRef {
  id: string;
  name: string;
  url: string;
  description?: string;
}

export interface Reference {
  title: string;
  url: string;
}

/**
 * The detection: its Sentinel analytic rule (nbtscan.yaml) as the loader made it, joined with what
 * only this project knows about it (nbtscan.meta.yaml). `tactics` and `relevantTechniques` are the
 * incident's ATT&CK objects (the meta file's); the Sentinel rule's own lists are in `loaded`.
 */
export interface DetectionRule {
  id: string;
  name: string;
  version: string;
  description: string;
  severity: string;
  basedOn: { name: string; id: string };
  knownHashes: { sha1: string[] };
  detectedFileName: string;
  requiredDataConnectors: { connectorId: string; dataTypes: string[] }[];
  tactics: AttackRef[];
  relevantTechniques: AttackRef[];
  software: AttackRef;
  campaign: { name: string; group: AttackRef };
  references: Reference[];
  /** The engine query (the loader's rewrite); the run prepends its window (query/buildQuery). */
  query: string;
  /** The rule as the loader checked, classified and rewrote it. */
  loaded: LoadedRule;
}

/**
 * Where the detections' data files (rule YAML and side files) are read from at run time: the
 * rules folder (functions/detections/folder.ts).
 */
export const DETECTION_DIR = RULES_DIR;
const RULE_FILE = DEFAULT_RULE_FILE;

/** The project's metadata file of a rule file: nbtscan.yaml -> nbtscan.meta.yaml. */
export function metaFileOf(ruleFile: string): string {
  return sideFileOf(ruleFile, "meta");
}

const attackRef = {
  type: "object",
  required: ["id", "name", "url"],
  properties: {
    id: { type: "string", minLength: 1 },
    name: { type: "string", minLength: 1 },
    url: { type: "string", pattern: "^https://attack\\.mitre\\.org/" },
    description: { type: "string" },
  },
} as const;

interface RuleMetadata {
  ruleId: string;
  basedOn: { name: string; id: string };
  knownHashes: { sha1: string[] };
  detectedFileName: string;
  attack: {
    tactics: AttackRef[];
    techniques: AttackRef[];
    software: AttackRef;
    campaign: { name: string; group: AttackRef };
  };
  references: Reference[];
}

const metadataSchema = {
  type: "object",
  required: ["ruleId", "basedOn", "knownHashes", "detectedFileName", "attack", "references"],
  properties: {
    ruleId: { type: "string", format: "uuid" },
    basedOn: { type: "object", required: ["name", "id"] },
    knownHashes: {
      type: "object",
      required: ["sha1"],
      properties: {
        sha1: { type: "array", minItems: 1, items: { type: "string", pattern: "^[0-9a-f]{40}$" } },
      },
    },
    detectedFileName: { type: "string", minLength: 1 },
    attack: {
      type: "object",
      required: ["tactics", "techniques", "software", "campaign"],
      properties: {
        tactics: { type: "array", minItems: 1, items: attackRef },
        techniques: { type: "array", minItems: 1, items: attackRef },
        software: attackRef,
        campaign: {
          type: "object",
          required: ["name", "group"],
          properties: { name: { type: "string" }, group: attackRef },
        },
      },
    },
    references: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["title", "url"],
        properties: { title: { type: "string" }, url: { type: "string", pattern: "^https://" } },
      },
    },
  },
} as const;

const validateMetadata = compileSchema<RuleMetadata>(metadataSchema, "detection rule metadata");

/** Where the metadata disagrees with the rule it describes. */
function joinProblems(
  rule: Pick<LoadedRule, "id" | "tactics" | "relevantTechniques">,
  meta: RuleMetadata,
): string[] {
  const problems: string[] = [];
  if (meta.ruleId !== rule.id)
    problems.push(`/ruleId '${meta.ruleId}' is not the rule's id ${rule.id}`);
  const tacticNames = meta.attack.tactics.map((t) => t.name);
  if (tacticNames.join() !== rule.tactics.join()) {
    problems.push(
      `/attack/tactics (${tacticNames.join(", ")}) are not the rule's tactics (${rule.tactics.join(", ")})`,
    );
  }
  const techniqueIds = new Set(meta.attack.techniques.map((t) => t.id));
  for (const technique of rule.relevantTechniques) {
    if (!techniqueIds.has(technique)) {
      problems.push(`/attack/techniques lacks the rule's technique ${technique}`);
    }
  }
  return problems;
}

/**
 * The detection of a loaded rule and its meta side file (the loader's `projectData`); throws a
 * SchemaValidationError naming the side file when the metadata is missing or disagrees.
 */
export function detectionRuleOf(loaded: LoadedRule): DetectionRule {
  const metaFile = metaFileOf(loaded.file);
  const meta = validateMetadata(loaded.projectData, metaFile);
  const problems = joinProblems(loaded, meta);
  if (problems.length > 0) {
    throw new SchemaValidationError(`detection rule metadata (${metaFile})`, problems);
  }
  return {
    id: loaded.id,
    name: loaded.name,
    version: loaded.version,
    description: loaded.description,
    severity: loaded.severity,
    basedOn: meta.basedOn,
    knownHashes: meta.knownHashes,
    detectedFileName: meta.detectedFileName,
    requiredDataConnectors: loaded.requiredDataConnectors,
    tactics: meta.attack.tactics,
    relevantTechniques: meta.attack.techniques,
    software: meta.attack.software,
    campaign: meta.attack.campaign,
    references: meta.references,
    query: loaded.query,
    loaded,
  };
}

/**
 * Loads and checks the rule file (a Sentinel analytic rule) and its metadata file, without the
 * loader's rewrite: for tools and tests that read nbtscan's own file, whose query is already in
 * the engine's shape (the loader leaves it as it is). The function reads the compiled rules.
 */
export function loadDetectionRule(ruleFile: string = RULE_FILE): DetectionRule {
  const rule = parseAnalyticRule(parseYaml(readFileSync(ruleFile, "utf8")), ruleFile);
  const metaFile = metaFileOf(ruleFile);
  const meta: unknown = parseYaml(readFileSync(metaFile, "utf8"));
  return detectionRuleOf({
    ruleClass: "runs as is",
    file: ruleFile,
    id: rule.id,
    name: rule.name,
    description: rule.description,
    severity: rule.severity,
    version: rule.version,
    kind: rule.kind,
    requiredDataConnectors: rule.requiredDataConnectors,
    tactics: rule.tactics,
    relevantTechniques: rule.relevantTechniques,
    tables: [...new Set(rule.requiredDataConnectors.flatMap((c) => c.dataTypes))],
    // The liveness template lists nbtscan's own tables, so it is nbtscan's query as it is.
    livenessQuery: readFileSync(LIVENESS_TEMPLATE_FILE, "utf8"),
    originalQuery: rule.query,
    query: rule.query,
    changes: [],
    columns: [],
    entityMappings: rule.entityMappings,
    customDetails: rule.customDetails ?? {},
    alertDetailsOverride: rule.alertDetailsOverride,
    projectData: meta as Record<string, unknown>,
  });
}
