import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { compileSchema } from "../validation";

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

/** The detection's metadata (Sentinel analytic-rule style YAML) and its KQL. */
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
}

/**
 * Where the detection's data files (KQL, YAML) are read from at run time: beside this module in
 * the compiled tree, beside the bundle in the deployed package (scripts/bundle.js copies them).
 */
export const DETECTION_DIR = __dirname;
const RULE_FILE = path.join(DETECTION_DIR, "nbtscan.yaml");

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

const ruleSchema = {
  type: "object",
  required: [
    "id",
    "name",
    "version",
    "description",
    "severity",
    "queryFile",
    "basedOn",
    "knownHashes",
    "detectedFileName",
    "requiredDataConnectors",
    "tactics",
    "relevantTechniques",
    "software",
    "campaign",
    "references",
  ],
  properties: {
    id: { type: "string", format: "uuid" },
    name: { type: "string", minLength: 1 },
    version: { type: "string", pattern: "^\\d+\\.\\d+\\.\\d+$" },
    kind: { const: "Scheduled" },
    description: { type: "string", minLength: 1 },
    severity: { enum: ["High", "Medium", "Low", "Informational"] },
    queryFile: { type: "string", pattern: "\\.kql$" },
    basedOn: { type: "object", required: ["name", "id"] },
    knownHashes: {
      type: "object",
      required: ["sha1"],
      properties: {
        sha1: { type: "array", minItems: 1, items: { type: "string", pattern: "^[0-9a-f]{40}$" } },
      },
    },
    detectedFileName: { type: "string", minLength: 1 },
    requiredDataConnectors: { type: "array", minItems: 1 },
    tactics: { type: "array", minItems: 1, items: attackRef },
    relevantTechniques: { type: "array", minItems: 1, items: attackRef },
    software: attackRef,
    campaign: {
      type: "object",
      required: ["name", "group"],
      properties: { name: { type: "string" }, group: attackRef },
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

const validateRule = compileSchema<Omit<DetectionRule, "query"> & { queryFile: string }>(
  ruleSchema,
  "detection rule metadata",
);

/** Loads and validates the rule metadata and its KQL from functions/detection. */
export function loadDetectionRule(ruleFile: string = RULE_FILE): DetectionRule {
  const metadata = validateRule(parseYaml(readFileSync(ruleFile, "utf8")), ruleFile);
  const { queryFile, ...rest } = metadata;
  const query = readFileSync(path.join(path.dirname(ruleFile), queryFile), "utf8");
  return { ...rest, query };
}
