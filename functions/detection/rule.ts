import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { DEFAULT_RULE_FILE, RULES_DIR, sideFileOf } from "../detections/folder";
import type { LoadedRule } from "../loader/loadedRule";
import { LIVENESS_TEMPLATE_FILE } from "../query/livenessTemplate";
import { EVENT_COLUMNS, type EventColumn } from "../model";
import { NBTSCAN_ROWS, type RowSpec } from "../query/rows";
import { compileSchema, SchemaValidationError } from "../validation";
import { parseAnalyticRule, ruleFieldsOf } from "./analyticRule";

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
 * A detection: its Sentinel analytic rule as the loader made it, joined with what only this
 * project knows about it (its meta side file, nbtscan.meta.yaml), when it has one.
 * `tactics` and `relevantTechniques` are the incident's ATT&CK objects (the meta file's, or made
 * from the YAML's names and ids); the Sentinel rule's own lists are in `loaded`. The fields
 * marked optional come from the meta file only: a rule without one has no campaign, software,
 * known hashes or references (an NbtscanRule has them all).
 */
export interface DetectionRule {
  id: string;
  name: string;
  version: string;
  description: string;
  severity: string;
  basedOn?: { name: string; id: string };
  knownHashes?: { sha1: string[] };
  detectedFileName?: string;
  requiredDataConnectors: { connectorId: string; dataTypes: string[] }[];
  tactics: AttackRef[];
  relevantTechniques: AttackRef[];
  software?: AttackRef;
  campaign?: { name: string; group: AttackRef };
  references: Reference[];
  /** The engine query (the loader's rewrite); the run prepends its window (query/buildQuery). */
  query: string;
  /** The rule as the loader checked, classified and rewrote it. */
  loaded: LoadedRule;
}

/** A rule with a meta side file in nbtscan's shape: its file name, hashes, software, campaign. */
export type NbtscanRule = DetectionRule &
  Required<
    Pick<DetectionRule, "basedOn" | "knownHashes" | "detectedFileName" | "software" | "campaign">
  >;

/** Whether the rule has nbtscan's project metadata (a meta side file), and so its enrichment. */
export function hasProjectMetadata(rule: DetectionRule): rule is NbtscanRule {
  return (
    rule.basedOn !== undefined &&
    rule.knownHashes !== undefined &&
    rule.detectedFileName !== undefined &&
    rule.software !== undefined &&
    rule.campaign !== undefined
  );
}

// Sentinel's tactic names (alertRules 2025-09-01 AttackTactic) and their ATT&CK Enterprise ids
// (attack.mitre.org/tactics/enterprise/); PreAttack and the ICS-only tactics have no Enterprise
// page, so they link to the tactics list.
const TACTIC_IDS: Record<string, string> = {
  Reconnaissance: "TA0043",
  ResourceDevelopment: "TA0042",
  InitialAccess: "TA0001",
  Execution: "TA0002",
  Persistence: "TA0003",
  PrivilegeEscalation: "TA0004",
  DefenseEvasion: "TA0005",
  CredentialAccess: "TA0006",
  Discovery: "TA0007",
  LateralMovement: "TA0008",
  Collection: "TA0009",
  Exfiltration: "TA0010",
  CommandAndControl: "TA0011",
  Impact: "TA0040",
};

/** The ATT&CK object of a Sentinel tactic name (its id and page when Enterprise has one). */
export function tacticRef(name: string): AttackRef {
  const id = TACTIC_IDS[name];
  return id
    ? { id, name, url: `https://attack.mitre.org/tactics/${id}/` }
    : { id: name, name, url: "https://attack.mitre.org/tactics/enterprise/" };
}

/** The ATT&CK object of a technique id (T1046, T1021.002); the YAML gives no name, so the id. */
export function techniqueRef(id: string): AttackRef {
  return { id, name: id, url: `https://attack.mitre.org/techniques/${id.replace(".", "/")}/` };
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
  // What every detection takes from its YAML as it is.
  const fromRule = {
    id: loaded.id,
    name: loaded.name,
    version: loaded.version,
    description: loaded.description,
    severity: loaded.severity,
    requiredDataConnectors: loaded.requiredDataConnectors,
    query: loaded.query,
    loaded,
  };
  if (loaded.projectData === undefined) {
    // No meta side file: a plain rule, everything from its YAML.
    return {
      ...fromRule,
      tactics: loaded.tactics.map(tacticRef),
      relevantTechniques: loaded.relevantTechniques.map(techniqueRef),
      references: [],
    };
  }
  const metaFile = metaFileOf(loaded.file);
  const meta = validateMetadata(loaded.projectData, metaFile);
  const problems = joinProblems(loaded, meta);
  if (problems.length > 0) {
    throw new SchemaValidationError(`detection rule metadata (${metaFile})`, problems);
  }
  return {
    ...fromRule,
    basedOn: meta.basedOn,
    knownHashes: meta.knownHashes,
    detectedFileName: meta.detectedFileName,
    tactics: meta.attack.tactics,
    relevantTechniques: meta.attack.techniques,
    software: meta.attack.software,
    campaign: meta.attack.campaign,
    references: meta.references,
  };
}

/**
 * Loads and checks the rule file (a Sentinel analytic rule) and its metadata file, without the
 * loader's rewrite: for tools and tests that read nbtscan's own file, whose query is already in
 * the engine's shape (the loader leaves it as it is). The function reads the compiled rules.
 */
export function loadDetectionRule(ruleFile: string = RULE_FILE): NbtscanRule {
  const rule = parseAnalyticRule(parseYaml(readFileSync(ruleFile, "utf8")), ruleFile);
  const metaFile = metaFileOf(ruleFile);
  const meta: unknown = parseYaml(readFileSync(metaFile, "utf8"));
  const detection = detectionRuleOf({
    ruleClass: "runs as is",
    file: ruleFile,
    ...ruleFieldsOf(rule),
    tables: [...new Set(rule.requiredDataConnectors.flatMap((c) => c.dataTypes))],
    // The liveness template lists nbtscan's own tables, so it is nbtscan's query as it is.
    livenessQuery: readFileSync(LIVENESS_TEMPLATE_FILE, "utf8"),
    query: rule.query,
    changes: [],
    columns: [],
    projectData: meta as Record<string, unknown>,
  });
  // detectionRuleOf validated the meta file, so the project fields are there.
  if (!hasProjectMetadata(detection)) throw new Error(`${metaFile}: no project metadata`);
  return detection;
}

/** The columns a rule's entity mappings and custom details name, in the YAML's order. */
export function mappedColumns(
  loaded: Pick<LoadedRule, "entityMappings" | "customDetails">,
): string[] {
  const named = [
    ...loaded.entityMappings.flatMap((m) => m.fieldMappings.map((f) => f.columnName)),
    ...Object.values(loaded.customDetails),
  ];
  return [...new Set(named)];
}

/**
 * What the rule's rows hold: nbtscan's fixed columns for a rule with its metadata; otherwise the
 * common columns its query produces and the other columns its mappings and details name (the
 * loader refuses a mapping to a column the query does not produce).
 */
export function rowSpecOf(rule: DetectionRule): RowSpec {
  if (hasProjectMetadata(rule)) return NBTSCAN_ROWS;
  const produced = new Set(rule.loaded.columns);
  const common = new Set<string>(EVENT_COLUMNS);
  return {
    tables: rule.loaded.tables,
    required: EVENT_COLUMNS.filter((c: EventColumn) => produced.has(c)),
    other: mappedColumns(rule.loaded).filter((c) => !common.has(c)),
    fileOrHash: false,
  };
}
