// Benign scenarios: innocent explanations for an nbtscan hit, kept as data in
// functions/detections/nbtscan.benign.yaml so the triage team can change them without code.
// A match is an annotation for responders ("possible benign explanation - verify"), never a
// verdict and never a suppression.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { DETECTION_DIR } from "../detection/rule";
import type { BenignMatch, DetectionEvent } from "../model";
import { compileSchema, SchemaValidationError } from "../validation";
import {
  compileCondition,
  conditionProblems,
  evaluateCondition,
  withConditionSchema,
  type CompiledCondition,
  type Condition,
} from "./conditions";
import scenariosSchema from "./scenarios.schema.json";

/** A benign scenario ready to evaluate. */
export interface BenignScenario {
  /** Stable id, recorded on each hit (BenignMatch.scenario). */
  name: string;
  title: string;
  /** For responders: what the benign case looks like and how to verify it. */
  description: string;
  condition: CompiledCondition;
}

interface ScenarioDocument {
  scenarios: { name: string; title: string; description: string; condition: Condition }[];
}

/** Where the shipped scenarios live: nbtscan's benign side file (functions/detections/folder.ts). */
const DEFAULT_SCENARIOS_FILE = path.join(DETECTION_DIR, "nbtscan.benign.yaml");

const validateScenarios = compileSchema<ScenarioDocument>(
  withConditionSchema(scenariosSchema),
  "benign scenarios",
);

/** Parses, validates and compiles a benign-scenarios document (YAML or JSON text). */
export function parseBenignScenarios(text: string, source: string): BenignScenario[] {
  const document = validateScenarios(parseYaml(text), source);
  const seen = new Set<string>();
  const problems = document.scenarios.flatMap((scenario, i) => {
    const duplicate = seen.has(scenario.name)
      ? [`/scenarios/${i}/name '${scenario.name}' is used by an earlier scenario`]
      : [];
    seen.add(scenario.name);
    return [...duplicate, ...conditionProblems(scenario.condition, `/scenarios/${i}/condition`)];
  });
  if (problems.length > 0) {
    throw new SchemaValidationError(`benign scenarios (${source})`, problems);
  }
  return document.scenarios.map((scenario) => ({
    ...scenario,
    condition: compileCondition(scenario.condition),
  }));
}

/** Reads and validates the benign scenarios file (default: the shipped one). */
export function loadBenignScenarios(file: string = DEFAULT_SCENARIOS_FILE): BenignScenario[] {
  return parseBenignScenarios(readFileSync(file, "utf8"), file);
}

/** Every scenario that fits the event, with the columns that made it fit; pure. */
export function annotateBenign(
  event: DetectionEvent,
  scenarios: readonly BenignScenario[],
): BenignMatch[] {
  return scenarios.flatMap((scenario) => {
    const result = evaluateCondition(scenario.condition, event);
    return result.matched
      ? [{ scenario: scenario.name, title: scenario.title, matchedFields: result.fields }]
      : [];
  });
}
