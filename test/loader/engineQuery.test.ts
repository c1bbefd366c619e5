import { loadDetectionRule } from "../../functions/detection/rule";
import {
  IDENTIFYING_COLUMNS,
  toEngineQuery,
  type EngineQuery,
} from "../../functions/loader/engineQuery";
import { childByRole, listItems, pipelineParts } from "../../functions/loader/syntax";
import { buildQuery } from "../../functions/query/buildQuery";
import { inspectKql, kqlSyntaxTree, loadTableSchemas, tableSchemaDir } from "../../sandbox/kusto";

const tables = loadTableSchemas(tableSchemaDir());
const window = { start: new Date("2026-11-25T08:00:00Z"), end: new Date("2026-11-25T09:00:00Z") };

/** The rewrite's result, which must have succeeded. */
function rewrite(query: string): Extract<EngineQuery, { ok: true }> {
  const result = toEngineQuery(query, tables);
  if (!result.ok) throw new Error(`refused: ${result.reason}`);
  return result;
}

/** Diagnostics of the engine query as the engine runs it (window lets prepended), as text. */
function diagnosticsOf(query: string): string {
  return inspectKql(buildQuery(query, window), tables)
    .diagnostics.map((d) => `${d.severity} ${d.code}: ${d.message}`)
    .join("\n");
}

/** The engine query's pipeline read back from its own syntax tree: source kind and operators. */
function shape(query: string): { source: string; operators: string[]; texts: string[] } {
  const text = buildQuery(query, window);
  const statements = listItems(childByRole(kqlSyntaxTree(text, tables).root, "Statements"));
  const expression = childByRole(statements[statements.length - 1], "Expression");
  if (!expression) throw new Error("no expression");
  const { source, operators } = pipelineParts(expression);
  return {
    source: source.kind,
    operators: operators.map((o) => o.kind),
    texts: operators.map((o) => text.slice(o.start, o.end)),
  };
}

function columnsOf(query: string): string[] {
  return (inspectKql(buildQuery(query, window), tables).resultColumns ?? []).map((c) => c.name);
}

describe("toEngineQuery: a rule's query rewritten into the engine's shape on its syntax tree", () => {
  it("leaves nbtscan's query, already in the engine's shape, as it is", () => {
    const nbtscan = loadDetectionRule().query;
    const result = rewrite(nbtscan);
    expect(result.query).toBe(nbtscan);
    expect(result.changes).toEqual([]);
    expect(result.tables).toEqual(["DeviceProcessEvents", "DeviceFileEvents"]);
  });

  it("frames a plain filter: union withsource, the window, IngestionTime, top MaxRows", () => {
    const result = rewrite('DeviceProcessEvents\n| where FileName =~ "certutil.exe"');
    expect(result.changes).toEqual([]);
    const { source, texts } = shape(result.query);
    expect(source).toBe("UnionOperator");
    expect(texts).toEqual([
      "where ingestion_time() >= WindowStart and ingestion_time() < WindowEnd",
      "extend IngestionTime = ingestion_time()",
      'where FileName =~ "certutil.exe"',
      "top MaxRows by IngestionTime asc",
    ]);
    expect(result.query.startsWith("union withsource=SourceTable DeviceProcessEvents\n")).toBe(
      true,
    );
    expect(columnsOf(result.query)).toEqual(expect.arrayContaining([...IDENTIFYING_COLUMNS]));
    expect(diagnosticsOf(result.query)).toBe("");
  });

  it("removes a where that only bounded Timestamp by ago()", () => {
    const result = rewrite(
      'DeviceProcessEvents\n| where Timestamp > ago(7d)\n| where FileName =~ "a.exe"',
    );
    expect(result.changes).toEqual(["removed 'Timestamp > ago(7d)'"]);
    expect(shape(result.query).operators).toEqual([
      "FilterOperator",
      "ExtendOperator",
      "FilterOperator",
      "TopOperator",
    ]);
    expect(result.query).not.toContain("ago(");
    expect(diagnosticsOf(result.query)).toBe("");
  });

  it("removes each event-time ago() bound from an and-chain and keeps the other conditions", () => {
    const result = rewrite(
      "DeviceFileEvents | where Timestamp >= ago(1d) and FileName =~ 'x.dll' and " +
        "(ago(2d) < TimeGenerated) and TimeGenerated between (ago(3d) .. now()) and FolderPath has 'temp'",
    );
    expect(result.changes).toEqual([
      "removed 'Timestamp >= ago(1d)'",
      "removed '(ago(2d) < TimeGenerated)'",
      "removed 'TimeGenerated between (ago(3d) .. now())'",
    ]);
    expect(shape(result.query).texts[2]).toBe(
      "where FileName =~ 'x.dll' and FolderPath has 'temp'",
    );
    expect(diagnosticsOf(result.query)).toBe("");
  });

  it("keeps an 'ago(' that is only text inside a string literal", () => {
    const result = rewrite(
      'DeviceProcessEvents | where ProcessCommandLine has "Timestamp > ago(1d)"',
    );
    expect(result.changes).toEqual([]);
    expect(shape(result.query).texts).toContain(
      'where ProcessCommandLine has "Timestamp > ago(1d)"',
    );
  });

  it("removes take, limit and top; the engine's top MaxRows is the only bound left", () => {
    const result = rewrite(
      "DeviceProcessEvents | take 10 | where FileName =~ 'a' | limit 5 | top 3 by Timestamp desc",
    );
    expect(result.changes).toEqual([
      "removed 'take 10'",
      "removed 'limit 5'",
      "removed 'top 3 by Timestamp desc'",
    ]);
    const { operators, texts } = shape(result.query);
    expect(operators.filter((o) => o === "TopOperator" || o === "TakeOperator")).toHaveLength(1);
    expect(texts.at(-1)).toBe("top MaxRows by IngestionTime asc");
    expect(diagnosticsOf(result.query)).toBe("");
  });

  it("puts the identifying columns a project lacks first; the first computes IngestionTime", () => {
    const result = rewrite(
      "DeviceProcessEvents | project Timestamp, DeviceName, FileName, Cmd = ProcessCommandLine" +
        " | where FileName =~ 'a' | project DeviceName, Cmd",
    );
    expect(result.changes).toEqual([
      "added SourceTable, TimeGenerated, ReportId to its project",
      "added SourceTable, TimeGenerated, Timestamp, ReportId to its project",
    ]);
    const { texts } = shape(result.query);
    expect(texts[1]).toBe(
      "project SourceTable, TimeGenerated, IngestionTime = ingestion_time(), ReportId, Timestamp, DeviceName, FileName, Cmd = ProcessCommandLine",
    );
    expect(texts[3]).toBe(
      "project SourceTable, TimeGenerated, Timestamp, IngestionTime, ReportId, DeviceName, Cmd",
    );
    expect(columnsOf(result.query)).toEqual([
      "SourceTable",
      "TimeGenerated",
      "Timestamp",
      "IngestionTime",
      "ReportId",
      "DeviceName",
      "Cmd",
    ]);
    expect(diagnosticsOf(result.query)).toBe("");
  });

  it("keeps a rule's own withsource column as a copy of SourceTable, and union parameters", () => {
    const result = rewrite(
      "union withsource=Table isfuzzy=true DeviceProcessEvents, DeviceNetworkEvents | where DeviceName startswith 'srv'",
    );
    expect(result.tables).toEqual(["DeviceProcessEvents", "DeviceNetworkEvents"]);
    expect(result.query.split("\n")[0]).toBe(
      "union withsource=SourceTable isfuzzy=true DeviceProcessEvents, DeviceNetworkEvents",
    );
    expect(shape(result.query).texts[1]).toBe("extend Table = SourceTable");
    expect(columnsOf(result.query)).toEqual(expect.arrayContaining(["Table", "SourceTable"]));
    expect(diagnosticsOf(result.query)).toBe("");
  });

  it("keeps the rule's scalar lets before the pipeline", () => {
    const result = rewrite(
      'let names = dynamic(["a.exe", "b.exe"]);\nlet lookback = 2h;\nDeviceProcessEvents\n| where Timestamp > ago(lookback)\n| where FileName in~ (names)',
    );
    expect(result.query.split("\n").slice(0, 2)).toEqual([
      'let names = dynamic(["a.exe", "b.exe"]);',
      "let lookback = 2h;",
    ]);
    expect(diagnosticsOf(result.query)).toBe("");
  });

  it.each([
    ["summarize", "DeviceProcessEvents | summarize count() by DeviceName", "summarize aggregates"],
    [
      "make-series",
      "DeviceProcessEvents | make-series n = count() on Timestamp step 1h",
      "make-series aggregates",
    ],
    ["count", "DeviceProcessEvents | count", "count aggregates"],
    ["distinct", "DeviceProcessEvents | distinct DeviceName", "distinct aggregates"],
    [
      "join",
      "DeviceProcessEvents | join kind=inner (DeviceNetworkEvents) on DeviceId",
      "outside its source",
    ],
    ["mv-expand", "DeviceProcessEvents | mv-expand AdditionalFields", "several rows of one event"],
    ["serialize", "DeviceProcessEvents | serialize | extend p = prev(FileName)", "baseline"],
    ["evaluate", "DeviceProcessEvents | evaluate bag_unpack(AdditionalFields)", "plugin"],
    [
      "a table in a subquery",
      "DeviceProcessEvents | where DeviceId in ((DeviceNetworkEvents | where RemotePort == 4444 | project DeviceId))",
      "reads DeviceNetworkEvents outside its source",
    ],
    ["an inventory table", "DeviceInfo | where OSPlatform == 'Windows7'", "inventory table"],
    ["a non-Device table", "SecurityEvent | where EventID == 4688", "not a Device* event table"],
    [
      "ago() outside a Timestamp filter",
      "DeviceProcessEvents | where Timestamp > ago(1d) or FileName =~ 'a'",
      "ago() outside a Timestamp filter",
    ],
    [
      "a let bound to ago()",
      "let start = ago(7d); DeviceProcessEvents | where Timestamp > start",
      "ago() outside",
    ],
    ["a reserved name", "let MaxRows = 10; DeviceProcessEvents", "a name the engine's window uses"],
    [
      "an identifying column projected away",
      "DeviceProcessEvents | project-away ReportId",
      "its result lacks ReportId",
    ],
    ["a syntax error", "DeviceProcessEvents | where (", "does not parse"],
    ["an unknown column", "DeviceProcessEvents | where NoSuchColumn == 1", "NoSuchColumn"],
  ])("refuses %s with a one-line reason", (_what, query, reason) => {
    const result = toEngineQuery(query, tables);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toContain(reason);
    expect(result.reason).not.toContain("\n");
  });
});
