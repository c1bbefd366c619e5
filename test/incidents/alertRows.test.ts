import { loadDetectionRule } from "../../functions/detection/rule";
import {
  ALERT_TABLE,
  CALL_BYTES,
  FIELD_BYTES,
  ROW_COLUMNS,
  alertRowsOf,
  truncateUtf8,
  validateAlertRows,
} from "../../functions/incidents/alertRows";
import { MAX_EVENTS_PER_INCIDENT } from "../../functions/incidents/group";
import {
  toPayload,
  validateIncidentPayload,
  type IncidentRecord,
} from "../../functions/incidents/payload";
import { SchemaValidationError } from "../../functions/validation";
import {
  HOSTILE_STRINGS,
  KNOWN_SHA1,
  benignMatch,
  makeEvent,
  makeFileEvent,
  makeHit,
} from "../support/events";
import { incidentOf } from "../support/incidents";
import { problemsOf } from "../support/problems";

const rule = loadDetectionRule();
// The incident-level fields every row repeats, set apart from what buildIncident would render.
const input = {
  incidentId: "8d5c9a52-6f0b-5e7c-9d3e-1a2b3c4d5e6f",
  title: "nbtscan.exe on ws-fin-07.contoso.local",
  severity: "High",
  description: "**Severity: High.** A description.",
  evidenceComment: "| evidence |",
  firstActivityTimeUtc: "2026-11-25T08:01:00.000Z",
  lastActivityTimeUtc: "2026-11-25T08:05:00.000Z",
} satisfies Partial<IncidentRecord>;

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

// Reserved by Log Analytics (logs-ingestion-api-overview, "Limits and restrictions"; custom
// table column naming rules): a row or column with one of these names is refused or dropped.
const RESERVED_COLUMNS = ["Title", "Type", "id", "TenantId", "_ResourceId"];

describe("the custom table's columns (infra/alert-table.json)", () => {
  const names = ALERT_TABLE.columns.map((c) => c.name);

  it("are a custom table's: named *_CL, with TimeGenerated as a datetime", () => {
    expect(ALERT_TABLE.name).toMatch(/^[A-Za-z][A-Za-z0-9_]*_CL$/);
    expect(ALERT_TABLE.columns.find((c) => c.name === "TimeGenerated")?.type).toBe("datetime");
  });

  it("use no reserved name, and names of at most 45 letters, digits and underscores", () => {
    for (const name of names) {
      expect([name, RESERVED_COLUMNS.map((r) => r.toLowerCase())]).not.toEqual([
        name,
        expect.arrayContaining([name.toLowerCase()]),
      ]);
      expect(name).toMatch(/^[A-Za-z][A-Za-z0-9_]{0,44}$/);
    }
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
  });

  it("are described one by one, and the rows carry every one but TimeGenerated", () => {
    expect(Object.keys(ALERT_TABLE.columnDescriptions)).toEqual(names);
    expect(ROW_COLUMNS.map((c) => c.name)).toEqual(names.filter((n) => n !== "TimeGenerated"));
  });
});

describe("alertRowsOf", () => {
  const hits = [
    makeHit(makeEvent({ Timestamp: "2026-11-25T08:01:00.000Z" }), {
      benign: [benignMatch("scheduled-network-inventory")],
    }),
    makeHit(
      makeFileEvent({
        Timestamp: "2026-11-25T08:05:00.000Z",
        FileName: "svc32.exe",
        FolderPath: "C:\\Users\\bob\\AppData\\Local\\Temp\\svc32.exe",
        SHA1: KNOWN_SHA1,
        DeviceName: "laptop-7",
      }),
      { matchedBy: "hash" },
    ),
  ];
  const rows = alertRowsOf(incidentOf(hits, input));

  it("gives one row per event, each with every table column, valid for the table", () => {
    expect(rows).toHaveLength(2);
    expect(validateAlertRows(rows)).toBe(rows);
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(ROW_COLUMNS.map((c) => c.name).sort());
    }
  });

  it("keys every row by the incident id and its event, in the incident's order", () => {
    expect(rows.map((r) => [r.IncidentKey, r.EventKey, r.EventIndex, r.EventCount])).toEqual([
      [input.incidentId, hits[0].key, 1, 2],
      [input.incidentId, hits[1].key, 2, 2],
    ]);
  });

  it("carries the incident's title, severity and description on every row, the evidence once", () => {
    expect(rows.map((r) => [r.AlertTitle, r.AlertSeverity, r.AlertDescription])).toEqual([
      [input.title, "High", input.description],
      [input.title, "High", input.description],
    ]);
    expect(rows.map((r) => r.EvidenceComment)).toEqual([input.evidenceComment, ""]);
  });

  it("splits the host name from its DNS domain and the folder from the file name", () => {
    expect(rows.map((r) => [r.HostName, r.HostDnsDomain, r.DeviceId])).toEqual([
      ["ws-fin-07", "contoso.local", hits[0].event.DeviceId],
      ["laptop-7", "", hits[1].event.DeviceId],
    ]);
    expect(rows.map((r) => [r.FileName, r.FileDirectory])).toEqual([
      ["nbtscan.exe", "C:\\Tools"],
      ["svc32.exe", "C:\\Users\\bob\\AppData\\Local\\Temp"],
    ]);
  });

  it("carries the entity columns, how each event matched, and its benign scenarios", () => {
    const [first, second] = rows;
    expect(first).toMatchObject({
      AccountName: "j.doe",
      AccountDomain: "CONTOSO",
      ProcessCommandLine: "nbtscan.exe -r 10.1.2.0/24",
      ParentProcessName: "cmd.exe",
      ParentProcessCommandLine: "cmd.exe /c nbtscan.exe -r 10.1.2.0/24",
      GrandparentProcessName: "explorer.exe",
      MatchedBy: "name",
      RenamedBinary: false,
      BenignScenarios: ["scheduled-network-inventory"],
      EventTime: "2026-11-25T08:01:00.000Z",
      SourceTable: "DeviceProcessEvents",
    });
    expect(second).toMatchObject({
      SHA1: KNOWN_SHA1,
      MatchedBy: "hash",
      RenamedBinary: true,
      BenignScenarios: [],
      ProcessCommandLine: "",
      SourceTable: "DeviceFileEvents",
    });
    expect(first.References).toEqual(rule.references.map((r) => r.url));
  });

  it("is rejected by the table's check when a column is missing, extra or mistyped", () => {
    const { RenamedBinary: _dropped, ...missing } = rows[0];
    void _dropped;
    const problems = problemsOf(SchemaValidationError, () =>
      validateAlertRows([missing, { ...rows[1], Title: "x", EventIndex: "2" }]),
    );
    expect(problems).toEqual([
      "/0 must have required property 'RenamedBinary'",
      "/1 must NOT have additional properties 'Title'",
      "/1/EventIndex must be integer",
    ]);
  });
});

describe("alert rows within the Logs Ingestion API's limits", () => {
  // The largest incident there can be, every untrusted column at its most hostile.
  const huge = "漢".repeat(40_000) + HOSTILE_STRINGS.join("\\");
  const hits = Array.from({ length: MAX_EVENTS_PER_INCIDENT }, (_, i) =>
    makeHit(
      makeEvent({
        ProcessCommandLine: huge,
        InitiatingProcessCommandLine: huge,
        FolderPath: `C:\\${"\\".repeat(20_000)}${i}\\nbtscan.exe`,
        DeviceName: `${"h".repeat(200)}.contoso.local`,
        InitiatingProcessAccountName: huge,
      }),
    ),
  );
  // Built from the record as stored, whatever it holds: its events are not capped here.
  const incident = incidentOf(hits, {
    ...input,
    description: "d".repeat(5000),
    evidenceComment: "\u0001".repeat(30_000),
  });
  const rows = alertRowsOf({
    ...incident,
    events: incident.events.map((e, i) => ({ ...e, ...hits[i].event })),
  });

  it("keeps one incident's rows under 1 MB, one call, and every field under 64 KB", () => {
    expect(rows).toHaveLength(MAX_EVENTS_PER_INCIDENT);
    expect(jsonBytes(rows)).toBeLessThanOrEqual(CALL_BYTES);
    for (const row of rows) {
      for (const value of Object.values(row)) {
        if (typeof value === "string")
          expect(jsonBytes(value)).toBeLessThanOrEqual(FIELD_BYTES + 2);
      }
    }
    expect(validateAlertRows(rows)).toBe(rows);
  });

  it("keeps the keys whole and marks every cut", () => {
    expect(rows.every((r, i) => r.EventKey === hits[i].key)).toBe(true);
    expect(rows.every((r) => r.ProcessCommandLine.endsWith("…"))).toBe(true);
  });

  it("leaves an ordinary incident's rows untouched", () => {
    const plain = alertRowsOf(incidentOf([makeHit(makeEvent())], input));
    expect(plain[0].AlertDescription).toBe(input.description);
    expect(plain[0].ProcessCommandLine).toBe("nbtscan.exe -r 10.1.2.0/24");
  });
});

describe("truncateUtf8", () => {
  it("cuts on a code point boundary, ellipsis included in the budget", () => {
    expect(truncateUtf8("abc", 3)).toBe("abc");
    expect(truncateUtf8("abcd", 3)).toBe("…");
    expect(truncateUtf8("😀😀😀", 8)).toBe("😀…");
    expect(truncateUtf8("ab😀", 6)).toBe("ab😀");
    expect(truncateUtf8("ab😀c", 6)).toBe("ab…");
  });
});

describe("the payload", () => {
  it("is the same whether built from the incident in memory or as the outbox gives it back", () => {
    const hits = [
      makeHit(makeEvent({ ProcessCommandLine: HOSTILE_STRINGS.join(" ") }), {
        benign: [benignMatch("scheduled-network-inventory")],
      }),
      makeHit(makeFileEvent({ SHA1: KNOWN_SHA1 }), { matchedBy: "hash" }),
    ];
    const incident = incidentOf(hits);
    const stored = JSON.parse(JSON.stringify(incident)) as IncidentRecord;
    expect(JSON.stringify(toPayload(stored))).toBe(JSON.stringify(toPayload(incident)));
  });

  it("carries the rows, and the payload check applies the table's check to them", () => {
    const incident = toPayload(incidentOf([makeHit(makeEvent())]));
    expect(validateIncidentPayload(incident)).toBe(incident);
    expect(incident.alertRows.map((r) => r.IncidentKey)).toEqual([incident.incidentId]);
    const broken = {
      ...incident,
      alertRows: [{ ...incident.alertRows[0], EventCount: "one" }],
    };
    expect(problemsOf(SchemaValidationError, () => validateIncidentPayload(broken))).toEqual([
      "/0/EventCount must be integer",
    ]);
  });
});
