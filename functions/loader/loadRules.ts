import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import type { TableSchema } from "../../sandbox/kusto";
import { DEFAULT_RULE_FILE, RULES_DIR, ruleFileNames, sideFileOf } from "../detections/folder";
import { classifyRule } from "./classify";
import type { ClassifiedRule } from "./loadedRule";

// When rules are classified and rewritten: at build/package time, not at run time. Kusto.Language
// is a devDependency (a 1.7 MB script bundle evaluated on load, ~1 s here), which the function's
// cold start should not pay, and a rule that would be refused must stop a deployment, not be
// found by a timer at 3 a.m. So `npm run detections -- check` (run by `npm test` and CI) refuses
// the deployment's bad rules, and the package step writes each loaded rule (the LoadedRule shape,
// query already rewritten) beside the bundle; the function only reads that file.

export { RULES_DIR };

/**
 * The rule files of a folder (side files such as nbtscan.meta.yaml are not rules), sorted by
 * name, except that nbtscan.yaml, the shipped default, comes first wherever the folder is.
 */
export function ruleFiles(dir: string): string[] {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
  const first = path.basename(DEFAULT_RULE_FILE);
  const ordered = ruleFileNames(names).sort((a, b) => Number(b === first) - Number(a === first));
  return ordered.map((name) => path.join(dir, name));
}

function readYaml(file: string): { value: unknown } | { problem: string } {
  try {
    return { value: parseYaml(readFileSync(file, "utf8")) as unknown };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { problem: message };
  }
}

/** Loads, checks and classifies one rule file; a file that cannot be read is refused, not thrown. */
export function loadRuleFile(file: string, tables: readonly TableSchema[]): ClassifiedRule {
  const document = readYaml(file);
  if ("problem" in document) {
    return { ruleClass: "refused", file, reason: `not readable YAML: ${document.problem}` };
  }
  const rule = classifyRule(file, document.value, tables);
  if (rule.ruleClass === "refused") return rule;
  const sideFile = sideFileOf(file, "meta");
  if (!existsSync(sideFile)) return rule;
  const side = readMetaFile(sideFile, rule.id);
  if ("problem" in side) {
    return { ruleClass: "refused", file, id: rule.id, name: rule.name, reason: side.problem };
  }
  return { ...rule, projectData: side.value };
}

/** A rule's meta side file: a mapping whose ruleId is the rule's id, or why it is not. */
function readMetaFile(
  sideFile: string,
  ruleId: string,
): { value: Record<string, unknown> } | { problem: string } {
  const side = readYaml(sideFile);
  if ("problem" in side) return { problem: `${sideFile}: ${side.problem}` };
  if (typeof side.value !== "object" || side.value === null || Array.isArray(side.value)) {
    return { problem: `${sideFile}: not a mapping` };
  }
  const value = side.value as Record<string, unknown>;
  if (value.ruleId !== ruleId) {
    return {
      problem: `${sideFile}: its ruleId ${JSON.stringify(value.ruleId)} is not the rule's id ${ruleId}`,
    };
  }
  return { value };
}

/**
 * Loads every rule of a list of files (e.g. ruleFiles(RULES_DIR)), in order. A second rule with
 * an id already loaded is refused: the id keys the rule's state and incidents.
 */
export function loadRules(
  files: readonly string[],
  tables: readonly TableSchema[],
): ClassifiedRule[] {
  const seen = new Map<string, string>();
  return files.map((file) => {
    const rule = loadRuleFile(file, tables);
    if (rule.id === undefined) return rule;
    const first = seen.get(rule.id.toLowerCase());
    if (first !== undefined) {
      return {
        ruleClass: "refused",
        file,
        id: rule.id,
        name: rule.name,
        reason: `its id is also the id of ${first}`,
      };
    }
    seen.set(rule.id.toLowerCase(), file);
    return rule;
  });
}
