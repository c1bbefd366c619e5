import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { DEFAULT_RULE_FILE, RULES_DIR, sideFileOf } from "../detections/folder";
import { compileSchema, SchemaValidationError } from "../validation";
import { parseAnalyticRule, type AnalyticRule } from "./analyticRule";

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
 * The detection: its Sentinel analytic rule (nbtscan.yaml) joined with what only this project
 * knows about it (nbtscan.meta.yaml). `tactics` and `relevantTechniques` are the incident's ATT&CK
 * objects (the meta file's); the Sentinel rule's own lists are in `analyticRule`.
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
  /** The KQL body; the run prepends its window (see query/buildQuery). */
  query: string;
  /** The rule file as Sentinel reads it. */
  analyticRule: AnalyticRule;
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
function joinProblems(rule: AnalyticRule, meta: RuleMetadata): string[] {
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

/** Loads and checks the rule file (a Sentinel analytic rule) and its metadata file. */
export function loadDetectionRule(ruleFile: string = RULE_FILE): DetectionRule {
  const rule = parseAnalyticRule(parseYaml(readFileSync(ruleFile, "utf8")), ruleFile);
  const metaFile = metaFileOf(ruleFile);
  const meta = validateMetadata(parseYaml(readFileSync(metaFile, "utf8")), metaFile);
  const problems = joinProblems(rule, meta);
  if (problems.length > 0) {
    throw new SchemaValidationError(`detection rule metadata (${metaFile})`, problems);
  }
  return {
    id: rule.id,
    name: rule.name,
    version: rule.version,
    description: rule.description,
    severity: rule.severity,
    basedOn: meta.basedOn,
    knownHashes: meta.knownHashes,
    detectedFileName: meta.detectedFileName,
    requiredDataConnectors: rule.requiredDataConnectors,
    tactics: meta.attack.tactics,
    relevantTechniques: meta.attack.techniques,
    software: meta.attack.software,
    campaign: meta.attack.campaign,
    references: meta.references,
    query: rule.query,
    analyticRule: rule,
  };
}
