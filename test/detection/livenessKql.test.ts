// The table-liveness query (functions/query/table-liveness.kql), checked by Kusto.Language
// against the Defender XDR table schemas, as the detection KQL is.
import { loadDetectionRule } from "../../functions/detection/rule";
import { livenessQuery, requiredTables } from "../../functions/query/tableLiveness";
import { inspectKql, loadTableSchemas, tableSchemaDir } from "../../sandbox/kusto";

const schemas = loadTableSchemas(tableSchemaDir());
const rule = loadDetectionRule();

/** The table list of a query's `union withsource=SourceTable ...` line. */
function unionTables(kql: string): string[] {
  const union = /^union withsource=SourceTable (.*)$/m.exec(kql);
  return union ? union[1].split(",").map((t) => t.trim()) : [];
}

describe("table-liveness KQL against the Defender XDR table schemas", () => {
  it("analyses without any diagnostic", () => {
    const diagnostics = inspectKql(livenessQuery(), schemas).diagnostics;
    expect(diagnostics.map((d) => `${d.severity} ${d.code}: ${d.message}`)).toEqual([]);
  });

  it("returns one row per table: its name and newest ingestion time", () => {
    expect(inspectKql(livenessQuery(), schemas).resultColumns).toEqual([
      { name: "SourceTable", type: "string" },
      { name: "LastIngested", type: "datetime" },
    ]);
    expect(livenessQuery()).toMatch(
      /summarize LastIngested = max\(ingestion_time\(\)\) by SourceTable/,
    );
  });

  it("reads exactly the tables the rule needs and the detection reads", () => {
    const needed = requiredTables(rule).map((t) => t.table);
    expect(needed.sort()).toEqual(["DeviceFileEvents", "DeviceProcessEvents"]);
    expect(unionTables(livenessQuery()).sort()).toEqual(needed);
    expect(unionTables(rule.query).sort()).toEqual(needed);
  });

  it("is not fuzzy, so a missing table is a semantic error that names it", () => {
    expect(livenessQuery()).not.toMatch(/isfuzzy/);
    const withoutFileEvents = schemas.filter((s) => s.Name !== "DeviceFileEvents");
    const errors = inspectKql(livenessQuery(), withoutFileEvents).diagnostics.filter(
      (d) => d.severity === "Error",
    );
    expect(errors.map((d) => d.message)).toEqual([expect.stringContaining("'DeviceFileEvents'")]);
  });
});
