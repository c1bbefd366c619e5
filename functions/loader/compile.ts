// Build-time half of the compiled detections (see compiled.ts): loads, checks, classifies and
// rewrites every rule of a folder with Kusto.Language and writes the result as JSON. Imported by
// the build (scripts/copy-assets.js) and the bundle (scripts/bundle.js), by tests, never by the
// function at run time.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { loadTableSchemas, tableSchemaDir, type TableSchema } from "../../sandbox/kusto";
import {
  COMPILED_FILE_NAME,
  COMPILED_FORMAT,
  compiledSources,
  type CompiledDetections,
} from "./compiled";
import { loadRules, ruleFiles } from "./loadRules";

/**
 * What the loader makes of a rules folder, in the compiled file's shape: each rule's `file` is
 * its name in the folder, so the file is the same wherever the folder is.
 */
export function compileDetections(
  dir: string,
  tables: readonly TableSchema[] = loadTableSchemas(tableSchemaDir()),
): CompiledDetections {
  const sources = compiledSources(dir);
  const rules = loadRules(ruleFiles(dir), tables).map((rule) => ({
    ...rule,
    file: path.basename(rule.file),
  }));
  return { format: COMPILED_FORMAT, sources, rules };
}

/**
 * Compiles the rules of `sourceDir` and writes the compiled file into `outDir` (default: beside
 * them), whose rule files must be copies of the source's. Returns the file written.
 */
export function writeCompiledDetections(sourceDir: string, outDir: string = sourceDir): string {
  const file = path.join(outDir, COMPILED_FILE_NAME);
  writeFileSync(file, `${JSON.stringify(compileDetections(sourceDir))}\n`);
  return file;
}

/** The compiled detections of a folder as the function would read them, compiled in process. */
export function compileDetectionsInProcess(dir: string): CompiledDetections {
  const compiled = compileDetections(dir);
  return {
    ...compiled,
    rules: compiled.rules.map((rule) => ({ ...rule, file: path.join(dir, rule.file) })),
  };
}
