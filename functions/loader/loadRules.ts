import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import type { TableSchema } from "../../sandbox/kusto";
import { classifyRule } from "./classify";
import type { ClassifiedRule } from "./loadedRule";

// When rules are classified and rewritten: at build/package time, not at run time. Kusto.Language
// is a devDependency (a 1.7 MB script bundle evaluated on load, ~1 s here), which the function's
// cold start should not pay, and a rule that would be refused must stop a deployment, not be
// found by a timer at 3 a.m. So `npm run detections -- check` (run by `npm test` and CI) refuses
// the deployment's bad rules, and the package step writes each loaded rule (the LoadedRule shape,
// query already rewritten) beside the bundle; the function only reads that file.

/** The deployed rules folder: one Sentinel analytic-rule YAML file per detection. */
export const RULES_DIR = path.resolve(__dirname, "..", "detections");
/** Project-only additions to a rule live in `<rules folder>/project/<rule id>.yaml`. */
export const PROJECT_DATA_DIR = "project";

const RULE_FILE = /\.ya?ml$/;

/** The rule files of a folder: its own *.yaml files (side files in project/ are not rules). */
export function ruleFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && RULE_FILE.test(e.name))
    .map((e) => path.join(dir, e.name))
    .sort();
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
  const sideFile = path.join(path.dirname(file), PROJECT_DATA_DIR, `${rule.id}.yaml`);
  if (!existsSync(sideFile)) return rule;
  const side = readYaml(sideFile);
  if ("problem" in side || typeof side.value !== "object" || side.value === null) {
    const why = "problem" in side ? side.problem : "not a mapping";
    return {
      ruleClass: "refused",
      file,
      id: rule.id,
      name: rule.name,
      reason: `${sideFile}: ${why}`,
    };
  }
  return { ...rule, projectData: side.value as Record<string, unknown> };
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
