// The shipped rules compiled in process, as the build writes them for the function: tests run the
// runtime from the sources, where no compiled file is written (it lives beside the build's and
// the bundle's copies of the rules). Compiled once per test file: the loader loads Kusto.Language.
import { RULES_DIR } from "../../functions/detections/folder";
import type { CompiledDetections } from "../../functions/loader/compiled";
import { compileDetectionsInProcess } from "../../functions/loader/compile";

let compiled: CompiledDetections | undefined;

/** The compiled shipped rules (functions/detections), nbtscan first. */
export function shippedDetections(): CompiledDetections {
  compiled ??= compileDetectionsInProcess(RULES_DIR);
  return compiled;
}

/** nbtscan's rule id, the shipped default detection. */
export function nbtscanId(): string {
  const [first] = shippedDetections().rules;
  if (first?.id === undefined) throw new Error("the first shipped rule has no id");
  return first.id;
}
