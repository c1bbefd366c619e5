// The compiled detections: what the rule loader made of the rules folder, written at build and
// package time (functions/loader/compile.ts, called by scripts/copy-assets.js and
// scripts/bundle.js) and the only thing about rules the function reads at run time. This module
// must not import Kusto.Language (a devDependency whose 1.7 MB script bundle costs about a second
// to evaluate): the function's cold start reads a JSON file and hashes a few small YAML files.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { isSideFile, ruleFileNames } from "../detections/folder";
import type { ClassifiedRule } from "./loadedRule";

/** The compiled file's name, beside the rule files it was compiled from. */
export const COMPILED_FILE_NAME = "detections.compiled.json";
/** Bumped when the compiled shape changes: an older file is then stale, not misread. */
export const COMPILED_FORMAT = 2; // 2: each rule carries its livenessQuery

/** One source file the compiled file was made from, by name, with its content hash. */
export interface CompiledSource {
  name: string;
  sha256: string;
}

/** The compiled file: every rule of the folder, in load order (nbtscan first), and its sources. */
export interface CompiledDetections {
  format: number;
  /** Rule files and the side files the loader reads (meta), each with its content hash. */
  sources: CompiledSource[];
  /** Each rule as the loader classified it; a rule's `file` is its name in the folder. */
  rules: ClassifiedRule[];
}

/** The compiled file is missing, unreadable or older than the rules beside it: one line says which. */
export class CompiledDetectionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CompiledDetectionsError";
  }
}

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/**
 * The files of a rules folder whose content the compiled file depends on: the rules and their
 * meta side files (benign scenarios and tests are read by their own modules), sorted by name.
 */
export function compiledSourceNames(dir: string): string[] {
  const names = readdirSync(dir);
  const rules = ruleFileNames(names);
  const metas = names.filter((n) => n.endsWith(".meta.yaml") && isSideFile(n));
  return [...rules, ...metas].sort();
}

/** The sources of a rules folder with their hashes, as the compiled file records them. */
export function compiledSources(dir: string): CompiledSource[] {
  return compiledSourceNames(dir).map((name) => ({ name, sha256: sha256(path.join(dir, name)) }));
}

const REBUILD = "run `npm run build` (or `npm run package`) to compile the rules";

/** Why the recorded sources are not the folder's, in a few words; undefined when they are. */
function staleness(recorded: readonly CompiledSource[], dir: string): string | undefined {
  const now = new Map(compiledSources(dir).map((s) => [s.name, s.sha256]));
  const then = new Map(recorded.map((s) => [s.name, s.sha256]));
  for (const [name, hash] of now) {
    if (!then.has(name)) return `${name} was added since it was compiled`;
    if (then.get(name) !== hash) return `${name} changed since it was compiled`;
  }
  for (const name of then.keys()) {
    if (!now.has(name)) return `${name} was removed since it was compiled`;
  }
  return undefined;
}

/**
 * Reads the compiled detections beside the rule files of `dir`, checking that they were compiled
 * from exactly these files; throws a CompiledDetectionsError (one line) when the file is missing,
 * unreadable or stale. Rule files are returned with their full path in `dir`.
 */
export function readCompiledDetections(dir: string): CompiledDetections {
  const file = path.join(dir, COMPILED_FILE_NAME);
  if (!existsSync(file)) {
    throw new CompiledDetectionsError(`no compiled detections at ${file}: ${REBUILD}`);
  }
  let compiled: CompiledDetections;
  try {
    compiled = JSON.parse(readFileSync(file, "utf8")) as CompiledDetections;
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new CompiledDetectionsError(`${file} is not readable JSON (${why}): ${REBUILD}`);
  }
  if (compiled?.format !== COMPILED_FORMAT || !Array.isArray(compiled.rules)) {
    throw new CompiledDetectionsError(
      `${file} is not in compiled format ${COMPILED_FORMAT}: ${REBUILD}`,
    );
  }
  const stale = staleness(compiled.sources ?? [], dir);
  if (stale) throw new CompiledDetectionsError(`${file} is stale: ${stale}; ${REBUILD}`);
  return {
    ...compiled,
    rules: compiled.rules.map((rule) => ({ ...rule, file: path.join(dir, rule.file) })),
  };
}
