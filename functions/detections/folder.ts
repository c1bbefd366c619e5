// The rules folder: one Sentinel analytic-rule YAML file per detection, and beside each rule its
// optional project-only side files, named after the rule file:
//
//   nbtscan.yaml          the rule, exactly as Sentinel reads it
//   nbtscan.meta.yaml     what only this project knows (references, campaign, known hashes...),
//                         keyed by the rule's id (`ruleId`, checked against the rule)
//   nbtscan.benign.yaml   benign scenarios (functions/triage/scenarios.ts)
//   nbtscan.tests.yaml    sample-event tests (sandbox/detectionTests.ts); never deployed
//
// Beside the rule, not in a folder of their own keyed by id: a reader sees one detection's files
// together, and `ls` shows which rules have tests. The id inside the meta file keeps the join
// honest when a file is renamed.
import path from "node:path";

/**
 * Where the rule files are read from: this folder in the source and compiled trees, the bundle's
 * own folder once bundled (scripts/bundle.js copies the files beside index.js).
 */
export const RULES_DIR = __dirname;

/** The kinds of side file a rule may have, by the suffix that replaces its `.yaml`. */
export const SIDE_FILE_SUFFIXES = {
  meta: ".meta.yaml",
  benign: ".benign.yaml",
  tests: ".tests.yaml",
} as const;
export type SideFileKind = keyof typeof SIDE_FILE_SUFFIXES;

/** A rule file's side file of one kind: nbtscan.yaml -> nbtscan.meta.yaml. */
export function sideFileOf(ruleFile: string, kind: SideFileKind): string {
  return ruleFile.replace(/\.ya?ml$/, SIDE_FILE_SUFFIXES[kind]);
}

/** Whether a file name is a side file (of any kind), not a rule. */
export function isSideFile(name: string): boolean {
  return Object.values(SIDE_FILE_SUFFIXES).some((suffix) => name.endsWith(suffix));
}

/** The rule files of a folder: its *.yaml files that are not side files, sorted by name. */
export function ruleFileNames(names: readonly string[]): string[] {
  return names.filter((n) => /\.ya?ml$/.test(n) && !isSideFile(n)).sort();
}

/** The rule file a side file belongs to: nbtscan.tests.yaml -> nbtscan.yaml. */
export function ruleFileOfSideFile(sideFile: string, kind: SideFileKind): string {
  return sideFile.slice(0, -SIDE_FILE_SUFFIXES[kind].length) + ".yaml";
}

/** The shipped default rule, first in every list: nbtscan. */
export const DEFAULT_RULE_FILE = path.join(RULES_DIR, "nbtscan.yaml");

/**
 * nbtscan's rule id (the id: of nbtscan.yaml; a test holds them equal): the one detection there
 * was before detections became data, so what was written before then is its (unscoped state,
 * exclusions without `rules`).
 */
export const NBTSCAN_RULE_ID = "6f0c1d1e-3b7a-4f55-9a8e-5d1c0b8a9e21";
