// Every detection's sample-event tests (functions/detections/*.tests.yaml), one Jest test per case,
// run by the same runner as `npm run detections -- test` (sandbox/detectionTests.ts).
import { DETECTION_DIR } from "../../functions/detection/rule";
import {
  findDetectionTests,
  loadDetectionTests,
  runDetectionTests,
} from "../../sandbox/detectionTests";

const files = findDetectionTests(DETECTION_DIR);

it("nbtscan ships at least 12 sample-event cases, matching and not", () => {
  const nbtscan = files.map(loadDetectionTests).find((t) => t.ruleFile.endsWith("nbtscan.yaml"));
  expect(nbtscan?.cases.length).toBeGreaterThanOrEqual(12);
  expect(nbtscan?.cases.some((c) => c.expect === "no match")).toBe(true);
  expect(nbtscan?.cases.some((c) => c.alert !== undefined)).toBe(true);
});

describe.each(files.map((f) => [f.slice(DETECTION_DIR.length + 1), f]))("%s", (_name, file) => {
  const tests = loadDetectionTests(file);
  const results = runDetectionTests(tests);
  it.each(results.map((r) => [r.name, r]))("%s", (_case, result) => {
    expect(result.detail).toBe("");
    expect(result.passed).toBe(true);
  });
});
