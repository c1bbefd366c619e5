import { readFileSync } from "node:fs";
import path from "node:path";
import type { LogsTable } from "@azure/monitor-query-logs";
import { EVENT_COLUMNS } from "../../functions/model";
import { eventsFromTable, ResultShapeError } from "../../functions/query/rows";

function table(columns: string[], rows: LogsTable["rows"]): LogsTable {
  return {
    name: "PrimaryResult",
    columnDescriptors: columns.map((name) => ({ name, type: "string" })),
    rows,
  };
}

describe("eventsFromTable", () => {
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
    const [event] = eventsFromTable(table(columns, [columns.map((c) => values[c] as string)]));
    expect(event.SourceTable).toBe("DeviceFileEvents");
    expect(event.Timestamp).toBe("2026-11-25T08:00:00.123Z");
    expect(event.TimeGenerated).toBe("2026-11-25T08:00:00.123Z");
    expect(event.ReportId).toBe("4711");
    expect(event.SHA256).toBe("");
    expect(event.DeviceName).toBe("v-DeviceName");
  });

  it("fails loudly when the result lacks a column the code relies on", () => {
    const columns = EVENT_COLUMNS.filter((c) => c !== "ReportId");
    expect(() => eventsFromTable(table(columns, []))).toThrow(
      new ResultShapeError("query result lacks column(s) ReportId"),
    );
  });

  it("rejects rows from a table the detection does not read", () => {
    const row = EVENT_COLUMNS.map((c) =>
      c === "SourceTable" ? "DeviceEvents" : /Time/.test(c) ? "2026-11-25T08:00:00Z" : "",
    );
    expect(() => eventsFromTable(table([...EVENT_COLUMNS], [row]))).toThrow(
      /unexpected SourceTable 'DeviceEvents'/,
    );
  });

  it("rejects a datetime column that holds no datetime", () => {
    const row = EVENT_COLUMNS.map((c) => (c === "SourceTable" ? "DeviceFileEvents" : "x"));
    expect(() => eventsFromTable(table([...EVENT_COLUMNS], [row]))).toThrow(
      /TimeGenerated 'x' is not a datetime/,
    );
  });

  it("knows exactly the columns the detection KQL projects, in its order", () => {
    const kql = readFileSync(path.join(__dirname, "../../functions/detection/nbtscan.kql"), "utf8");
    const projection = /\|\s*project\s+([\s\S]*)$/.exec(kql)?.[1] ?? "";
    const projected = projection.split(",").map((c) => c.trim().split(/\s*=/)[0]);
    expect(projected).toEqual(EVENT_COLUMNS);
  });
});
