// Every query the project ships, run by the local KQL engine over small tables with known answers:
// the detection (through rule.ts, wherever the rule keeps it), the table-liveness query, the
// Sentinel analytics rule over the alert table, and the health rules' queries (read from the
// compiled Bicep, filled in as the templates' format() calls fill them).
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadDetectionRule } from "../../../functions/detection/rule";
import { ALERT_TABLE } from "../../../functions/incidents/alertRows";
import { buildQuery } from "../../../functions/query/buildQuery";
import { loadTableSchemas, tableSchemaDir, type TableSchema } from "../../../sandbox/kusto";
import { build, REPO_ROOT, text, type JsonObject } from "../../infra/bicep";
import { column, run, type TestTable } from "./run";

const NOW = new Date("2026-11-25T12:00:00Z");
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();

const alertColumns = Object.fromEntries(ALERT_TABLE.columns.map((c) => [c.name, c.type]));
const securityAlertSchema = JSON.parse(
  readFileSync(path.join(REPO_ROOT, "test", "infra", "schemas", "SecurityAlert.json"), "utf8"),
) as TableSchema;
const securityAlertColumns = Object.fromEntries(
  securityAlertSchema.Properties.map((p) => [p.Name, p.Type]),
);

function alertRow(eventKey: string, incidentKey: string, at: string): Record<string, unknown> {
  return { TimeGenerated: at, EventKey: eventKey, IncidentKey: incidentKey, SHA1: "s1" };
}

/** A SecurityAlert row as Sentinel writes one: custom details as JSON text inside the bag. */
function securityAlert(
  alertType: string,
  details: Record<string, string[]>,
): Record<string, unknown> {
  return {
    TimeGenerated: minutesAgo(20),
    AlertType: alertType,
    SystemAlertId: `a-${Object.values(details).join("-")}`,
    ExtendedProperties: JSON.stringify({ "Custom Details": JSON.stringify(details) }),
  };
}

describe("the detection's query (functions/detections, through rule.ts)", () => {
  it("returns the hits in the window, earliest ingested first, at most MaxRows", () => {
    // The real tables' columns (schemas/tables), so every column the query names exists.
    const columnsOf = (name: string) =>
      Object.fromEntries(
        loadTableSchemas(tableSchemaDir())
          .find((t) => t.Name === name)!
          .Properties.map((p) => [p.Name, p.Type]),
      );
    const columns = columnsOf("DeviceProcessEvents");
    const rows = [
      { FileName: "NBTSCAN.EXE", SHA1: "x", DeviceName: "a", TimeGenerated: minutesAgo(50) },
      {
        FileName: "calc.exe",
        SHA1: "90da10004c8f6fafdaa2cf18922670a745564f45",
        DeviceName: "b",
        TimeGenerated: minutesAgo(40),
      },
      { FileName: "nbtstat.exe", SHA1: "y", DeviceName: "c", TimeGenerated: minutesAgo(30) },
      { FileName: "nbtscan.exe", SHA1: "z", DeviceName: "d", TimeGenerated: minutesAgo(20) },
    ];
    const tables: Record<string, TestTable> = {
      DeviceProcessEvents: {
        columns,
        rows,
        ingested: [minutesAgo(45), minutesAgo(35), minutesAgo(25), minutesAgo(5)],
      },
      DeviceFileEvents: { columns: columnsOf("DeviceFileEvents"), rows: [] },
    };
    const window = { start: new Date(minutesAgo(60)), end: new Date(minutesAgo(10)) };
    const query = buildQuery(loadDetectionRule().query, window, 1);
    expect(run(query, tables).rows.map((r) => r[5])).toEqual(["a"]);
    const all = run(buildQuery(loadDetectionRule().query, window), tables);
    expect(all.columns.slice(0, 4)).toEqual([
      "SourceTable",
      "TimeGenerated",
      "Timestamp",
      "IngestionTime",
    ]);
    expect(all.rows.map((r) => [r[0], r[5]])).toEqual([
      ["DeviceProcessEvents", "a"],
      ["DeviceProcessEvents", "b"],
    ]);
  });
});

describe("table liveness (functions/query/table-liveness.kql)", () => {
  it("gives each table with rows its newest ingestion time, and no row for a silent table", () => {
    const query = readFileSync(
      path.join(REPO_ROOT, "functions", "query", "table-liveness.kql"),
      "utf8",
    );
    const tables: Record<string, TestTable> = {
      DeviceProcessEvents: {
        columns: { FileName: "string" },
        rows: [{ FileName: "a" }, { FileName: "b" }],
        ingested: [minutesAgo(30), minutesAgo(3)],
      },
      DeviceFileEvents: { columns: { FileName: "string" }, rows: [] },
    };
    expect(run(query, tables)).toEqual({
      columns: ["SourceTable", "LastIngested"],
      rows: [["DeviceProcessEvents", "2026-11-25T11:57:00.0000000Z"]],
    });
  });
});

describe("the analytics rule's query (infra/sentinel/analytics-rule.kql)", () => {
  const query = readFileSync(
    path.join(REPO_ROOT, "infra", "sentinel", "analytics-rule.kql"),
    "utf8",
  );

  it("alerts each event once: the earliest copy, not yet alerted by this rule, within the day, oldest first", () => {
    const tables: Record<string, TestTable> = {
      [ALERT_TABLE.name]: {
        columns: alertColumns,
        rows: [
          alertRow("k1", "i1", minutesAgo(120)),
          alertRow("k1", "i1", minutesAgo(60)), // a redelivered copy
          alertRow("k2", "i1", minutesAgo(90)), // already alerted by this rule
          alertRow("k3", "i2", minutesAgo(180)), // alerted by another rule only
          alertRow("k4", "i3", minutesAgo(2 * 24 * 60)), // older than the rule's row look-back
        ],
      },
      SecurityAlert: {
        columns: securityAlertColumns,
        rows: [
          securityAlert("Sentinel_ANALYTICS_RULE_ID", { EventKey: ["k2"], IncidentKey: ["i1"] }),
          securityAlert("Sentinel_other-rule", { EventKey: ["k3"] }),
        ],
      },
    };
    const result = run(query, tables, { now: NOW });
    const at = (name: string) => result.columns.indexOf(name);
    expect(result.rows.map((r) => [r[at("EventKey")], r[at("TimeGenerated")]])).toEqual([
      ["k3", "2026-11-25T09:00:00.0000000Z"],
      ["k1", "2026-11-25T10:00:00.0000000Z"],
    ]);
    expect(result.rows.map((r) => [r[at("Sha1Algorithm")], r[at("Sha256Algorithm")]])).toEqual([
      ["SHA1", "SHA256"],
      ["SHA1", "SHA256"],
    ]);
  });

  it("takes at most 150 rows per run", () => {
    const rows = Array.from({ length: 160 }, (_, i) => alertRow(`k${i}`, "i", minutesAgo(200 - i)));
    const tables = {
      [ALERT_TABLE.name]: { columns: alertColumns, rows },
      SecurityAlert: { columns: securityAlertColumns, rows: [] },
    };
    expect(run(query, tables, { now: NOW }).rows).toHaveLength(150);
  });
});

/** The template's variable, a KQL text with format() placeholders. */
async function bicepVariable(file: string, name: string): Promise<string> {
  const { template, stderr } = await build(path.join("infra", "modules", file));
  if (!template) throw new Error(`${file} does not compile:\n${stderr}`);
  return text((template.variables as JsonObject)[name]);
}

/** What format(text, args...) makes of it (Bicep's format, as the modules call it). */
function format(template: string, ...args: string[]): string {
  return args.reduce((s, arg, i) => s.split(`{${i}}`).join(arg), template);
}

describe("the health rules' queries (infra/modules/health-alert.bicep, sentinel-health.bicep)", () => {
  // Application Insights' requests and traces tables, the columns the queries read
  // (learn.microsoft.com/azure/azure-monitor/app/data-model-complete).
  const requests = { timestamp: "datetime", operation_Name: "string", success: "bool" };
  const traces = { timestamp: "datetime", message: "string" };

  it("health: one row when a run failed, none completed or a rule did not load, none when healthy", async () => {
    const query = format(
      await bicepVariable("health-alert.bicep", "healthQuery"),
      "nbtscanDetection",
      "nbtscan-detector run completed",
      "nbtscan-detector detection unavailable",
    );
    const completed = { message: "nbtscan-detector run completed: 2 new" };
    const healthy = {
      requests: {
        columns: requests,
        rows: [{ operation_Name: "nbtscanDetection", success: true }],
      },
      traces: { columns: traces, rows: [completed] },
    };
    expect(run(query, healthy).rows).toEqual([]);
    const failed = {
      ...healthy,
      requests: {
        columns: requests,
        rows: [{ operation_Name: "nbtscanDetection", success: false }],
      },
    };
    expect(run(query, failed)).toEqual({
      columns: ["failed", "completed", "unavailable"],
      rows: [[1, 1, 0]],
    });
    const silent = { ...healthy, traces: { columns: traces, rows: [] } };
    expect(run(query, silent).rows).toEqual([[0, 0, 0]]);
    const unavailable = {
      ...healthy,
      traces: {
        columns: traces,
        rows: [
          completed,
          {
            message:
              "nbtscan-detector detection unavailable: 'x' (id): summarize aggregates events",
          },
        ],
      },
    };
    expect(run(query, unavailable).rows).toEqual([[0, 1, 1]]);
  }, 120_000);

  it("data: one row per silence line, counted", async () => {
    const query = format(
      await bicepVariable("health-alert.bicep", "dataQuery"),
      "nbtscan-detector data silence",
    );
    const line = "nbtscan-detector data silence: DeviceFileEvents received nothing for 6h";
    const tables = {
      traces: {
        columns: traces,
        rows: [{ message: line }, { message: "other" }, { message: line }],
      },
    };
    expect(run(query, tables)).toEqual({ columns: ["message", "lines"], rows: [[line, 2]] });
  }, 120_000);

  it("unalerted rows: counts incidents whose rows no alert of the rule carries, in the hour before the grace", async () => {
    const query = format(
      await bicepVariable("sentinel-health.bicep", "unalertedQuery"),
      ALERT_TABLE.name,
      "30",
      "nbtscan-rule",
    );
    const tables: Record<string, TestTable> = {
      [ALERT_TABLE.name]: {
        columns: alertColumns,
        rows: [
          alertRow("e1", "i1", minutesAgo(60)), // alerted
          alertRow("e2", "i2", minutesAgo(80)),
          alertRow("e3", "i2", minutesAgo(50)),
          alertRow("e4", "i3", minutesAgo(10)), // still inside the grace period
        ],
      },
      SecurityAlert: {
        columns: securityAlertColumns,
        rows: [securityAlert("x_nbtscan-rule", { EventKey: ["e1"] })],
      },
    };
    expect(run(query, tables, { now: NOW })).toEqual({
      columns: ["UnalertedIncidents", "Rows", "OldestRow"],
      rows: [[1, 2, "2026-11-25T10:40:00.0000000Z"]],
    });
    expect(
      column(
        query,
        { ...tables, [ALERT_TABLE.name]: { columns: alertColumns, rows: [] } },
        { now: NOW },
      ),
    ).toEqual([0]);
  }, 120_000);
});
