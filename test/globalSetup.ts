// Before any test: compile the shipped rules beside their sources, as the build does beside its
// copy (scripts/copy-assets.js), so that code run from the sources (ts-jest) reads a compiled file
// like the function does. The file is ignored by git; a test that wants one missing or stale
// makes its own folder (test/loader/compiled.test.ts).
import { RULES_DIR } from "../functions/detections/folder";
import { writeCompiledDetections } from "../functions/loader/compile";

export default function globalSetup(): void {
  writeCompiledDetections(RULES_DIR);
}
