import path from "node:path";
import { loadDetectionRule } from "../../functions/detection/rule";
import { buildQuery } from "../../functions/query/buildQuery";
import {
  analyzeKql,
  loadTableSchemas,
  readLetDatetimes,
  tableSchemaDir,
  type KqlDiagnostic,
} from "../../sandbox/kusto";

// The schemas are kept in the repository: <repo>/schemas/tables.
const schemaDir = path.resolve(__dirname, "..", "..", "schemas", "tables");
const schemas = loadTableSchemas(schemaDir);
const rule = loadDetectionRule();
const window = {
  start: new Date("2026-11-25T08:00:00.000Z"),
  end: new Date("2026-11-25T09:00:00.000Z"),
};

function formatDiagnostics(diagnostics: KqlDiagnostic[], query: string): string {
  return diagnostics
    .map(
      (d) =>
        `${d.severity} ${d.code} at ${d.start}: ${d.message} [${query.slice(d.start, d.start + d.length)}]`,
    )
    .join("\n");
}

describe("detection KQL against the Defender XDR table schemas", () => {
  it("uses the schemas kept in the repository, the seed query's two tables among them", () => {
    expect(tableSchemaDir()).toBe(schemaDir);
    expect(schemas.map((s) => s.Name)).toEqual(
      expect.arrayContaining(["DeviceFileEvents", "DeviceProcessEvents"]),
    );
  });

  it("analyses without any diagnostic once the run's window is prepended", () => {
    const query = buildQuery(rule.query, window);
    // Compared as text, so a failure shows each diagnostic with the code it points at.
    expect(formatDiagnostics(analyzeKql(query, schemas), query)).toBe("");
  });

  it("catches a misspelled column", () => {
    const typo = "InitiatingProcessParentFileNmae";
    const body = rule.query.replace("InitiatingProcessParentFileName", typo);
    expect(body).not.toBe(rule.query);
    const diagnostics = analyzeKql(buildQuery(body, window), schemas);
    expect(diagnostics.some((d) => d.severity === "Error" && d.message.includes(typo))).toBe(true);
  });

  it("reports WindowStart and WindowEnd as unresolved without the window prelude", () => {
    const messages = analyzeKql(rule.query, schemas)
      .filter((d) => d.severity === "Error")
      .map((d) => d.message);
    expect(messages.some((m) => m.includes("'WindowStart'"))).toBe(true);
    expect(messages.some((m) => m.includes("'WindowEnd'"))).toBe(true);
  });

  it("carries the window as top-level datetime lets the stand-in can read", () => {
    const lets = readLetDatetimes(buildQuery(rule.query, window));
    expect(lets.get("WindowStart")?.toISOString()).toBe(window.start.toISOString());
    expect(lets.get("WindowEnd")?.toISOString()).toBe(window.end.toISOString());
  });

  it("keeps the seed hunting logic: both tables, the file name and the known hashes", () => {
    const kql = rule.query;
    expect(kql).toMatch(/union\b[^|]*\bDeviceProcessEvents\s*,\s*DeviceFileEvents\b/);
    expect(kql).toContain('FileName =~ "nbtscan.exe"');
    expect(kql).toContain("SHA1 in (nbtscan)");
    expect(rule.knownHashes.sha1).toHaveLength(2);
    for (const sha1 of rule.knownHashes.sha1) expect(kql).toContain(`"${sha1}"`);
  });
});
