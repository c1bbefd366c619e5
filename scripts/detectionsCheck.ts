import path from "node:path";
import { loadRules, ruleFiles, RULES_DIR } from "../functions/loader/loadRules";
import type { ClassifiedRule } from "../functions/loader/loadedRule";
import { entityFieldsWithoutColumn } from "../functions/incidents/entityColumns";
import { loadTableSchemas, tableSchemaDir } from "../sandbox/kusto";

/** Where a command writes its lines: stdout and stderr in the CLI, arrays in tests. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/**
 * The deployed rules folder in the source tree: `npm run detections` runs from dist/, whose copy
 * of the rules (scripts/copy-assets.js) is not the file a reader should be pointed at.
 */
export const SOURCE_RULES_DIR = path.join(
  path.dirname(path.dirname(tableSchemaDir())),
  "functions",
  path.basename(RULES_DIR),
);

const CLASS_WIDTH = "runs as is".length;

/** One line for a classified rule: class, file, name and why. */
export function checkLine(rule: ClassifiedRule, cwd: string = process.cwd()): string {
  const file = path.relative(cwd, rule.file) || rule.file;
  const label = rule.name ? `${file} (${rule.name})` : file;
  const why =
    rule.ruleClass === "refused"
      ? rule.reason
      : rule.ruleClass === "adapted"
        ? rule.changes.join("; ")
        : `a per-event query over ${rule.tables.join(", ")}`;
  const uncarried =
    rule.ruleClass === "refused" ? [] : entityFieldsWithoutColumn(rule.entityMappings);
  const note =
    uncarried.length > 0
      ? `; entity fields the alert table has no column for, left out: ${uncarried.join(", ")}`
      : "";
  return `${rule.ruleClass.padEnd(CLASS_WIDTH)}  ${label}: ${why}${note}`;
}

function inside(dir: string, file: string): boolean {
  const relative = path.relative(dir, path.resolve(file));
  return !relative.startsWith("..") && !path.isAbsolute(relative);
}

/**
 * `detections check [FILES…]`: loads, checks and classifies the given rule files (default: the
 * deployed folder, functions/detections), one line per rule. Returns the exit code: 1 when a rule
 * of the deployed folder is refused (a refused fixture elsewhere is only reported), else 0.
 */
export function runCheck(
  args: readonly string[],
  output: Output,
  rulesDir: string = SOURCE_RULES_DIR,
): number {
  const files = args.length > 0 ? args.map((a) => path.resolve(a)) : ruleFiles(rulesDir);
  if (files.length === 0) {
    output.err(`detections check: no rule files in ${rulesDir}`);
    return 1;
  }
  const rules = loadRules(files, loadTableSchemas(tableSchemaDir()));
  for (const rule of rules) output.out(checkLine(rule));
  const deployedRefused = rules.filter(
    (r) => r.ruleClass === "refused" && inside(rulesDir, r.file),
  );
  return deployedRefused.length > 0 ? 1 : 0;
}
