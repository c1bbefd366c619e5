// Each rule's table-liveness query (functions/loader/livenessQuery.ts): the template
// functions/query/table-liveness.kql with its union's tables replaced on the syntax tree by the
// tables the rule reads, checked by Kusto.Language against the Defender XDR table schemas.
import { readFileSync } from "node:fs";
import { RULES_DIR } from "../../functions/detections/folder";
import { loadDetectionRule } from "../../functions/detection/rule";
import { livenessQueryFor } from "../../functions/loader/livenessQuery";
import { loadRules, ruleFiles } from "../../functions/loader/loadRules";
import type { LoadedRule } from "../../functions/loader/loadedRule";
import { LIVENESS_TEMPLATE_FILE } from "../../functions/query/livenessTemplate";
import { requiredTables } from "../../functions/query/tableLiveness";
import { inspectKql, kqlSyntaxTree, loadTableSchemas, tableSchemaDir } from "../../sandbox/kusto";
import { childByRole, descendants, listItems, textOf } from "../../functions/loader/syntax";

const schemas = loadTableSchemas(tableSchemaDir());
const template = readFileSync(LIVENESS_TEMPLATE_FILE, "utf8");
const shipped = loadRules(ruleFiles(RULES_DIR), schemas).filter(
  (r): r is LoadedRule => r.ruleClass !== "refused",
);

/** The tables of a query's union, read from its syntax tree. */
function unionTables(kql: string): string[] {
  const union = [...descendants(kqlSyntaxTree(kql, schemas).root)].find(
    (n) => n.kind === "UnionOperator",
  );
  return listItems(union && childByRole(union, "Expressions")).map((n) => textOf(kql, n));
}

describe("each rule's table-liveness query", () => {
  it("covers every shipped rule, nbtscan's two tables and DeviceNetworkEvents among them", () => {
    const byId = new Map(shipped.map((r) => [r.id, unionTables(r.livenessQuery).sort()]));
    expect(byId.get(loadDetectionRule().id)).toEqual(["DeviceFileEvents", "DeviceProcessEvents"]);
    expect([...byId.values()].flat()).toContain("DeviceNetworkEvents");
    for (const rule of shipped) expect(unionTables(rule.livenessQuery)).toEqual(rule.tables);
  });

  it("analyses clean and returns one row per table: its name and newest ingestion time", () => {
    for (const rule of shipped) {
      const inspection = inspectKql(rule.livenessQuery, schemas);
      expect(inspection.diagnostics).toEqual([]);
      expect(inspection.resultColumns).toEqual([
        { name: "SourceTable", type: "string" },
        { name: "LastIngested", type: "datetime" },
      ]);
    }
  });

  it("keeps the template's text around the table list (its comments and summarize)", () => {
    const query = livenessQueryFor(["DeviceNetworkEvents"], schemas, template);
    expect(query.replace("DeviceNetworkEvents", "DeviceProcessEvents, DeviceFileEvents")).toBe(
      template,
    );
  });

  it("is not fuzzy, so a table missing from the workspace is a semantic error naming it", () => {
    const query = livenessQueryFor(["DeviceProcessEvents", "DeviceFileEvents"], schemas, template);
    const withoutFileEvents = schemas.filter((s) => s.Name !== "DeviceFileEvents");
    const errors = inspectKql(query, withoutFileEvents).diagnostics.filter(
      (d) => d.severity === "Error",
    );
    expect(errors.map((d) => d.message)).toEqual([expect.stringContaining("'DeviceFileEvents'")]);
  });

  it("refuses, at build time, a table the schemas do not know, and a template without a union", () => {
    expect(() => livenessQueryFor(["DeviceNoSuchEvents"], schemas, template)).toThrow(
      /DeviceNoSuchEvents/,
    );
    expect(() =>
      livenessQueryFor(["DeviceFileEvents"], schemas, "DeviceFileEvents | take 1"),
    ).toThrow(/no union/);
  });

  it("pairs each table a rule reads with the connector its requiredDataConnectors name", () => {
    const nbtscan = loadDetectionRule();
    expect(requiredTables(nbtscan)).toEqual([
      { table: "DeviceProcessEvents", connectorId: "MicrosoftThreatProtection" },
      { table: "DeviceFileEvents", connectorId: "MicrosoftThreatProtection" },
    ]);
  });
});
