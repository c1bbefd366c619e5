import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { LogsTable } from "@azure/monitor-query-logs";
import { parse as parseYaml } from "yaml";
import { DEFAULT_SEVERITY_POLICY } from "../functions/triage/severity";
import { DETECTION_DIR, loadDetectionRule, type DetectionRule } from "../functions/detection/rule";
import { SIDE_FILE_SUFFIXES } from "../functions/detections/folder";
import { enrichHit } from "../functions/enrich/enrich";
import { alertRowsOf, type AlertRow } from "../functions/incidents/alertRows";
import { buildIncident } from "../functions/incidents/buildIncident";
import { buildQuery } from "../functions/query/buildQuery";
import { readRows } from "../functions/query/rows";
import { annotateBenign, loadBenignScenarios } from "../functions/triage/scenarios";
import { compileSchema } from "../functions/validation";
import { runKql, tableFromRecords } from "./kql/evaluate";
import { KqlDateTime, type Table } from "./kql/values";
import { loadTableSchemas, tableSchemaDir } from "./kusto";

// Detection unit tests as data: a rule `<name>.yaml` may carry `<name>.tests.yaml` beside it,
// sample Defender events each with what must happen to it (match, or no match; for a match,
// optionally the alert row's entity columns). Each case runs the rule's real query, as a
// scheduled run builds it (buildQuery: the ingestion window and MaxRows prepended), through the
// same local KQL engine the Log Analytics stand-in uses, over a workspace holding only that
// case's event; a match then goes through the function's own path (readRows, enrichHit,
// buildIncident, alertRowsOf) to the alert row Sentinel would receive.

/** The ingestion window every case runs in; an event is ingested inside it unless it says. */
export const TEST_WINDOW = {
  start: new Date("2026-11-25T08:00:00.000Z"),
  end: new Date("2026-11-25T09:00:00.000Z"),
};
const DEFAULT_TIME = "2026-11-25T08:20:00.000Z";
const DEFAULT_INGESTED = "2026-11-25T08:25:00.000Z";

/** One sample event and its expected outcome. */
export interface DetectionCase {
  name: string;
  /** Why the case exists (the behaviour it pins). */
  why: string;
  /** The event's columns; the file's `defaults` fill the rest. IngestionTime sets ingestion_time(). */
  event: Record<string, string | number>;
  expect: "match" | "no match";
  /** For a match: columns of the alert row it becomes, as they must read. */
  alert?: Record<string, string | boolean>;
}

export interface DetectionTestFile {
  /** The rule file the tests are for (`<name>.yaml` beside `<name>.tests.yaml`). */
  ruleFile: string;
  file: string;
  defaults: Record<string, string | number>;
  cases: DetectionCase[];
}

/** The outcome of one case. */
export interface CaseResult {
  name: string;
  passed: boolean;
  /** What went wrong, one line; empty when passed. */
  detail: string;
}

const scalar = { type: ["string", "number"] } as const;
const testFileSchema = {
  type: "object",
  additionalProperties: false,
  required: ["cases"],
  properties: {
    defaults: { type: "object", additionalProperties: scalar },
    cases: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "why", "event", "expect"],
        properties: {
          name: { type: "string", minLength: 1 },
          why: { type: "string", minLength: 1 },
          event: { type: "object", additionalProperties: scalar },
          expect: { enum: ["match", "no match"] },
          alert: { type: "object", additionalProperties: { type: ["string", "boolean"] } },
        },
      },
    },
  },
} as const;

const validateTestFile = compileSchema<Omit<DetectionTestFile, "ruleFile" | "file">>(
  testFileSchema,
  "detection tests",
);

const SUFFIX = SIDE_FILE_SUFFIXES.tests;

/** The sidecar test files in a directory (functions/detections by default). */
export function findDetectionTests(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(SUFFIX))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Reads and validates one sidecar file; its rule is the `.yaml` of the same name beside it. */
export function loadDetectionTests(file: string): DetectionTestFile {
  const parsed = validateTestFile(parseYaml(readFileSync(file, "utf8")), file);
  const ruleFile = file.slice(0, -SUFFIX.length) + ".yaml";
  if (!existsSync(ruleFile))
    throw new Error(`${file}: no rule ${path.basename(ruleFile)} beside it`);
  const names = new Set<string>();
  for (const c of parsed.cases) {
    if (names.has(c.name)) throw new Error(`${file}: two cases are named '${c.name}'`);
    names.add(c.name);
    if (c.alert && c.expect !== "match")
      throw new Error(`${file}: '${c.name}' expects an alert row but no match`);
  }
  return { ruleFile, file, defaults: parsed.defaults ?? {}, cases: parsed.cases };
}

/** A result table as LogsQueryClient hands it over: datetimes as Date, dynamic as text. */
function asLogsTable(table: Table): LogsTable {
  return {
    name: "PrimaryResult",
    columnDescriptors: table.columns.map((c) => ({ name: c.name, type: c.type as "string" })),
    // The SDK's cell type has no null; a missing cell reads as "", as readRows treats one.
    rows: table.rows.map((row) =>
      row.values.map((v) => {
        if (v instanceof KqlDateTime) return new Date(v.ms);
        if (v === null) return "";
        return v as string | number | boolean;
      }),
    ),
  };
}

/** Runs the rule's query over a workspace holding just this event. */
function runCase(rule: DetectionRule, event: Record<string, string | number>): Table {
  const schemas = loadTableSchemas(tableSchemaDir());
  const sourceTable = String(event.SourceTable ?? "");
  const schema = schemas.find((s) => s.Name === sourceTable);
  if (!schema)
    throw new Error(`SourceTable '${sourceTable}' is not a table the sandbox has a schema for`);
  const ingestionTime = Date.parse(String(event.IngestionTime ?? DEFAULT_INGESTED));
  if (Number.isNaN(ingestionTime))
    throw new Error(`IngestionTime '${String(event.IngestionTime)}' is not a datetime`);
  const tables = new Map([
    [sourceTable, tableFromRecords(schema, [{ cells: event, ingestionTime }])],
  ]);
  const query = buildQuery(rule.query, TEST_WINDOW);
  return runKql(query, { schemas, tables, now: new Date(TEST_WINDOW.end.getTime() + 2 * 60_000) });
}

/** The alert row a matched event becomes, through the function's own path. */
function alertRowOf(rule: DetectionRule, result: Table): AlertRow {
  const { events, quarantined } = readRows(asLogsTable(result));
  if (quarantined.length > 0) throw new Error(`the row was quarantined: ${quarantined[0].reason}`);
  const scenarios = loadBenignScenarios();
  const hit = enrichHit(events[0], rule, (e) => annotateBenign(e, scenarios));
  const incident = buildIncident([hit], {
    rule,
    workspaceId: "00000000-0000-0000-0000-000000000000",
    grouping: "device",
    severityPolicy: DEFAULT_SEVERITY_POLICY,
    scenarios,
  });
  return alertRowsOf(incident)[0];
}

function checkCase(rule: DetectionRule, tests: DetectionTestFile, c: DetectionCase): CaseResult {
  const event = {
    TimeGenerated: DEFAULT_TIME,
    Timestamp: DEFAULT_TIME,
    IngestionTime: DEFAULT_INGESTED,
    ...tests.defaults,
    ...c.event,
  };
  const fail = (detail: string): CaseResult => ({ name: c.name, passed: false, detail });
  let result: Table;
  try {
    result = runCase(rule, event);
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  const matched = result.rows.length > 0;
  if (matched !== (c.expect === "match")) {
    return fail(
      `expected ${c.expect}, the query ${matched ? "returned the event" : "returned nothing"}`,
    );
  }
  if (!c.alert) return { name: c.name, passed: true, detail: "" };
  let row: AlertRow;
  try {
    row = alertRowOf(rule, result);
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  const cells = new Map<string, unknown>(Object.entries(row));
  const wrong = Object.entries(c.alert)
    .filter(([column, value]) => cells.get(column) !== value)
    .map(
      ([column, value]) =>
        `${column} is ${JSON.stringify(cells.get(column))}, expected ${JSON.stringify(value)}`,
    );
  return wrong.length === 0
    ? { name: c.name, passed: true, detail: "" }
    : fail(`alert row: ${wrong.join("; ")}`);
}

/** Runs every case of one sidecar file against its rule. */
export function runDetectionTests(tests: DetectionTestFile): CaseResult[] {
  const rule = loadDetectionRule(tests.ruleFile);
  return tests.cases.map((c) => checkCase(rule, tests, c));
}

/**
 * `npm run detections -- test [file...]`: runs the sidecar tests (all of functions/detections' by
 * default), prints one line per case, and returns the exit code: 0 when every case passed.
 */
export function detectionTestCommand(args: string[], dir: string = DETECTION_DIR): number {
  const files = args.length > 0 ? args.map((a) => path.resolve(a)) : findDetectionTests(dir);
  if (files.length === 0) {
    console.error(`no *${SUFFIX} files in ${dir}`);
    return 1;
  }
  let failed = 0;
  let total = 0;
  for (const file of files) {
    let tests: DetectionTestFile;
    try {
      tests = loadDetectionTests(file);
    } catch (error) {
      console.error(error instanceof Error ? error.message : String(error));
      return 1;
    }
    console.log(`${path.basename(file)} (${path.basename(tests.ruleFile)})`);
    for (const result of runDetectionTests(tests)) {
      total += 1;
      if (!result.passed) failed += 1;
      console.log(
        result.passed ? `  ok    ${result.name}` : `  FAIL  ${result.name}: ${result.detail}`,
      );
    }
  }
  console.log(`${total - failed} of ${total} detection test(s) passed`);
  return failed === 0 ? 0 : 1;
}
