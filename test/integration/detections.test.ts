// Several detections in one function: each runs in turn under its own state, each summary names
// its rule, and a detection that fails, or a rule that did not load, is reported by name and
// never stops the others.
import type { CompiledDetections } from "../../functions/loader/compiled";
import type { LoadedRule } from "../../functions/loader/loadedRule";
import { DETECTION_UNAVAILABLE, RUN_COMPLETED } from "../../functions/run/runLog";
import { shippedDetections } from "../support/compiled";
import { makeEvent } from "../support/events";
import { useSandboxes, MINUTE, type LogLine } from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const sandboxes = useSandboxes(START);

const SECOND_ID = "11111111-1111-4111-8111-111111111111";
const BROKEN_ID = "22222222-2222-4222-8222-222222222222";
const REFUSED_ID = "33333333-3333-4333-8333-333333333333";

const OTHER_SHA1 = "0123456789abcdef0123456789abcdef01234567";

/** nbtscan's compiled rule under another id and name: a second detection with its own state. */
function copyOf(nbtscan: LoadedRule, id: string, name: string, query = nbtscan.query): LoadedRule {
  return { ...nbtscan, id, name, query, projectData: { ...nbtscan.projectData, ruleId: id } };
}

/**
 * A second detection that finds another tool, nbtscan2.exe, with no known hash: the two rules
 * find different events, so each run's hits are its own (stateIsolation.test.ts shows two
 * detections over the same events kept apart).
 */
function secondDetection(nbtscan: LoadedRule): LoadedRule {
  const query = nbtscan.query
    .replace('"nbtscan.exe"', '"nbtscan2.exe"')
    .replace(/pack_array\([^)]*\)/, `pack_array("${"f".repeat(40)}")`);
  const copy = copyOf(nbtscan, SECOND_ID, "second detection", query);
  return {
    ...copy,
    projectData: {
      ...copy.projectData,
      detectedFileName: "nbtscan2.exe",
      knownHashes: { sha1: ["f".repeat(40)] },
    },
  };
}

function compiledWithFourRules(): CompiledDetections {
  const shipped = shippedDetections();
  const nbtscan = shipped.rules[0];
  if (nbtscan.ruleClass === "refused") throw new Error("nbtscan did not load");
  return {
    ...shipped,
    rules: [
      nbtscan,
      // A query the service refuses (the stand-in answers 400, as Log Analytics does).
      copyOf(nbtscan, BROKEN_ID, "broken query", "DeviceProcessEvents | where"),
      secondDetection(nbtscan),
      {
        ruleClass: "refused",
        file: "refused.yaml",
        id: REFUSED_ID,
        name: "refused rule",
        reason: "summarize aggregates events",
      },
    ],
  };
}

function summaries(
  logs: LogLine[],
): { detectionId: string; detection: string; new: number; delivered: number }[] {
  return logs
    .filter((l) => l.message.startsWith(RUN_COMPLETED))
    .map((l) => JSON.parse(l.message.slice(RUN_COMPLETED.length)) as never);
}

describe("several detections in one function", () => {
  it("runs each in order under its own state; a failing one and a refused one are named, the others run", async () => {
    const compiled = compiledWithFourRules();
    const nbtscanId = compiled.rules[0].id ?? "";
    const times = {
      TimeGenerated: new Date(START.getTime() - 10 * MINUTE).toISOString(),
      Timestamp: new Date(START.getTime() - 10 * MINUTE).toISOString(),
      IngestionTime: new Date(START.getTime() - 5 * MINUTE).toISOString(),
    };
    const events = [
      makeEvent({ ...times, ReportId: "1", FileName: "nbtscan.exe", SHA1: OTHER_SHA1 }),
      makeEvent({ ...times, ReportId: "2", FileName: "nbtscan2.exe", SHA1: OTHER_SHA1 }),
    ];
    const s = await sandboxes.create({
      events,
      compiled,
      ruleIds: [nbtscanId, BROKEN_ID, SECOND_ID, REFUSED_ID],
    });

    const failed = (await s.run().catch((error: unknown) => error)) as Error & { logs: LogLine[] };
    expect(failed).toBeInstanceOf(Error);
    const { logs } = failed;

    // Both healthy detections ran to the end, each naming its rule, each finding its event once.
    expect(summaries(logs).map((x) => [x.detectionId, x.detection, x.new, x.delivered])).toEqual([
      [nbtscanId, compiled.rules[0].name, 1, 1],
      [SECOND_ID, "second detection", 1, 1],
    ]);
    const errors = logs.filter((l) => l.level === "error").map((l) => l.message);
    expect(errors).toEqual([
      `${DETECTION_UNAVAILABLE}: 'refused rule' (${REFUSED_ID}): summarize aggregates events`,
      expect.stringMatching(
        new RegExp(
          `^nbtscan-detector run failed: .* \\(detection 'broken query', rule ${BROKEN_ID}\\)$`,
        ),
      ),
    ]);
    for (const line of errors) expect(line).not.toContain("\n");

    // The next run: nothing new for either healthy detection; the broken one still fails alone.
    s.advance(5 * MINUTE);
    const again = (await s.run().catch((error: unknown) => error)) as Error & { logs: LogLine[] };
    expect(summaries(again.logs).map((x) => [x.detectionId, x.new])).toEqual([
      [nbtscanId, 0],
      [SECOND_ID, 0],
    ]);
    expect(s.delivered()).toHaveLength(2);
  }, 60_000);
});
