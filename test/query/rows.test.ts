import type { LogsTable } from "@azure/monitor-query-logs";
import { loadDetectionRule } from "../../functions/detection/rule";
import { EVENT_COLUMNS } from "../../functions/model";
import { readRows, ResultShapeError } from "../../functions/query/rows";

function table(columns: string[], rows: LogsTable["rows"]): LogsTable {
  return {
    name: "PrimaryResult",
    columnDescriptors: columns.map((name) => ({ name, type: "string" })),
    rows,
  };
}

/** A row of a good process event, with some cells replaced. */
function row(overrides: Record<string, unknown> = {}): LogsTable["rows"][number] {
  const values: Record<string, unknown> = {
    SourceTable: "DeviceProcessEvents",
    TimeGenerated: "2026-11-25T08:00:00Z",
    Timestamp: "2026-11-25T08:00:00Z",
    IngestionTime: "2026-11-25T08:01:00Z",
    DeviceName: "ws-1.contoso.local",
    FileName: "nbtscan.exe",
    ReportId: 17,
    ...overrides,
  };
  return EVENT_COLUMNS.map((c) => (c in values ? values[c] : "")) as LogsTable["rows"][number];
}

describe("readRows", () => {
  it("maps columns by name, turns datetimes into ISO text and nulls into empty strings", () => {
    const columns = [...EVENT_COLUMNS].reverse();
    const values: Record<string, unknown> = Object.fromEntries(
      EVENT_COLUMNS.map((c) => [c, `v-${c}`]),
    );
    values.SourceTable = "DeviceFileEvents";
    values.Timestamp = new Date("2026-11-25T08:00:00.123Z");
    values.TimeGenerated = "2026-11-25T08:00:00.1234567Z";
    values.IngestionTime = "2026-11-25T08:02:00Z";
    values.ReportId = 4711;
    values.SHA256 = null;
    const { events, quarantined } = readRows(
      table(columns, [columns.map((c) => values[c] as string)]),
    );
    expect(quarantined).toEqual([]);
    const [event] = events;
    expect(event.SourceTable).toBe("DeviceFileEvents");
    expect(event.Timestamp).toBe("2026-11-25T08:00:00.123Z");
    expect(event.TimeGenerated).toBe("2026-11-25T08:00:00.123Z");
    expect(event.ReportId).toBe("4711");
    expect(event.SHA256).toBe("");
    expect(event.DeviceName).toBe("v-DeviceName");
  });

  it("fails loudly when the result lacks a column the code relies on", () => {
    const columns = EVENT_COLUMNS.filter((c) => c !== "ReportId");
    expect(() => readRows(table(columns, []))).toThrow(
      new ResultShapeError("query result lacks column(s) ReportId"),
    );
  });

  it.each([
    [{ SourceTable: "DeviceEvents" }, "unknown SourceTable 'DeviceEvents'"],
    [{ Timestamp: null }, "Timestamp is empty"],
    [{ Timestamp: "" }, "Timestamp is empty"],
    [{ Timestamp: "yesterday" }, "Timestamp 'yesterday' is not a datetime"],
    [{ Timestamp: new Date(Number.NaN) }, "Timestamp holds a value that is not a datetime"],
    [
      { Timestamp: "+010000-01-01T00:00:00Z" },
      "Timestamp '+010000-01-01T00:00:00Z' is not a datetime",
    ],
    [
      { IngestionTime: "10000-01-01T00:00:00Z" },
      "IngestionTime '10000-01-01T00:00:00Z' is not a datetime",
    ],
    [
      { DeviceName: "d".repeat(100_000) },
      "DeviceName is 100000 characters long (an identifier has at most 256)",
    ],
    [{ FileName: null, SHA1: null }, "FileName and SHA1 are both empty"],
  ])("quarantines a row the detection cannot process: %j", (overrides, reason) => {
    const good = row({ ReportId: 1 });
    const { events, quarantined } = readRows(
      table([...EVENT_COLUMNS], [good, row(overrides), row({ ReportId: 2 })]),
    );
    expect(events.map((e) => e.ReportId)).toEqual(["1", "2"]);
    expect(quarantined.map((q) => [q.reason, q.row.ReportId])).toEqual([[reason, 17]]);
  });

  it("keeps a quarantined row's cells as evidence, dates as ISO text", () => {
    const [only] = readRows(
      table([...EVENT_COLUMNS], [row({ SourceTable: "X", Timestamp: new Date("2026-01-01Z") })]),
    ).quarantined;
    expect(only.row).toMatchObject({ SourceTable: "X", Timestamp: "2026-01-01T00:00:00.000Z" });
  });

  it("knows exactly the columns the detection KQL projects, in its order", () => {
    const kql = loadDetectionRule().query;
    const projection = /\|\s*project\s+([^|]*)/.exec(kql)?.[1] ?? "";
    const projected = projection.split(",").map((c) => c.trim().split(/\s*=/)[0]);
    expect(projected).toEqual(EVENT_COLUMNS);
  });
});
