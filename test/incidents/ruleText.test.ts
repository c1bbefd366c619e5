// The incident of a rule without nbtscan's meta side file: everything from its YAML and from the
// columns its entityMappings and customDetails name (ruleText.ts, entityColumns.ts, and the
// generic paths of buildIncident.ts, alertRows.ts, entities.ts, rows.ts and rule.ts).
import path from "node:path";
import type { LogsTable } from "@azure/monitor-query-logs";
import { detectionRuleOf, rowSpecOf, type DetectionRule } from "../../functions/detection/rule";
import { enrichHit, eventKey } from "../../functions/enrich/enrich";
import { buildIncident } from "../../functions/incidents/buildIncident";
import { entityColumnsOf } from "../../functions/incidents/entityColumns";
import { DESCRIPTION_LIMIT, EVIDENCE_COMMENT_LIMIT } from "../../functions/incidents/limits";
import { toPayload, validateIncidentPayload } from "../../functions/incidents/payload";
import type { DetectionEvent } from "../../functions/model";
import { readRows } from "../../functions/query/rows";
import { DEFAULT_SEVERITY_POLICY } from "../../functions/triage/severity";
import { shippedDetections } from "../support/compiled";
import { makeEvent, HOSTILE_STRINGS } from "../support/events";
import { TEST_WORKSPACE_ID } from "../support/incidents";

function ruleFrom(file: string): DetectionRule {
  const loaded = shippedDetections().rules.find((r) => path.basename(r.file) === file);
  if (!loaded || loaded.ruleClass === "refused") throw new Error(`${file} did not load`);
  return detectionRuleOf(loaded);
}

const scanner = ruleFrom("network-scanner-smb-sweep.yaml");

/** A network event of the scanner rule, as rows.ts reads it. */
function networkEvent(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  return makeEvent({
    SourceTable: "DeviceNetworkEvents",
    DeviceName: "ws-1.contoso.local",
    ActionType: "ConnectionSuccess",
    FileName: "",
    FolderPath: "",
    SHA1: "",
    SHA256: "",
    ProcessCommandLine: "",
    InitiatingProcessFileName: "advanced_ip_scanner.exe",
    InitiatingProcessCommandLine: "advanced_ip_scanner.exe /portable",
    OtherColumns: { RemoteIP: "10.0.0.7", RemotePort: "445" },
    ...overrides,
  });
}

function incidentOf(rule: DetectionRule, events: DetectionEvent[]) {
  const hits = events.map((e) => enrichHit(e, rule, () => []));
  return buildIncident(hits, {
    rule,
    workspaceId: TEST_WORKSPACE_ID,
    grouping: "device",
    severityPolicy: DEFAULT_SEVERITY_POLICY,
    scenarios: [],
  });
}

describe("a rule without a meta side file", () => {
  it("is a plain detection: the YAML's ATT&CK ids as objects, no campaign, software or references", () => {
    expect(scanner.tactics).toEqual([
      { id: "TA0007", name: "Discovery", url: "https://attack.mitre.org/tactics/TA0007/" },
    ]);
    expect(scanner.relevantTechniques.map((t) => t.url)).toEqual([
      "https://attack.mitre.org/techniques/T1046/",
      "https://attack.mitre.org/techniques/T1135/",
    ]);
    expect([scanner.campaign, scanner.software, scanner.knownHashes]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("reads rows by its own columns: its table, the other columns its mappings name", () => {
    const spec = rowSpecOf(scanner);
    expect(spec).toMatchObject({ tables: ["DeviceNetworkEvents"], fileOrHash: false });
    expect(spec.other).toEqual(["RemoteIP", "RemotePort"]);
    const columns = [...spec.required, ...spec.other];
    const values: Record<string, unknown> = {
      SourceTable: "DeviceNetworkEvents",
      TimeGenerated: "2026-11-25T08:00:00Z",
      Timestamp: "2026-11-25T08:00:00Z",
      IngestionTime: "2026-11-25T08:01:00Z",
      DeviceName: "ws-1.contoso.local",
      ReportId: 9,
      RemoteIP: "10.0.0.7",
      RemotePort: 445,
    };
    const table: LogsTable = {
      name: "PrimaryResult",
      columnDescriptors: columns.map((name) => ({ name, type: "string" })),
      rows: [columns.map((c) => values[c] ?? "")],
    };
    const read = readRows(table, spec);
    // No file name and no hash is a network event, not a poison row.
    expect(read.quarantined).toEqual([]);
    expect(read.events[0].OtherColumns).toEqual({ RemoteIP: "10.0.0.7", RemotePort: "445" });
    // A table the rule does not read is still quarantined.
    const other = readRows(
      { ...table, rows: [[...table.rows[0]].fill("DeviceFileEvents", 0, 1)] },
      spec,
    );
    expect(other.quarantined.map((q) => q.reason)).toEqual([
      "unknown SourceTable 'DeviceFileEvents'",
    ]);
  });

  it("keys its events as nbtscan's (table, device, time, ReportId)", () => {
    const event = networkEvent({ ReportId: "9" });
    expect(eventKey(event)).toBe(
      `DeviceNetworkEvents|${event.DeviceName.toLowerCase()}|${event.Timestamp}|9`,
    );
    // Without a ReportId, the other columns are part of the content hash: two connections differ.
    const a = eventKey(networkEvent({ ReportId: "" }));
    const b = eventKey(
      networkEvent({ ReportId: "", OtherColumns: { RemoteIP: "10.0.0.8", RemotePort: "445" } }),
    );
    expect(a).not.toBe(b);
  });

  it("gets the YAML's severity, title format, tactics and techniques, and a valid payload", () => {
    const incident = incidentOf(scanner, [
      networkEvent({ ReportId: "1" }),
      networkEvent({ ReportId: "2", OtherColumns: { RemoteIP: "10.0.0.8", RemotePort: "139" } }),
    ]);
    expect(incident).toMatchObject({
      severity: "Medium",
      tactics: ["Discovery"],
      techniques: ["T1046", "T1135"],
      references: [],
      title: "advanced_ip_scanner.exe swept NetBIOS/SMB from ws-1.contoso.local (2 events)",
    });
    expect(incident.attack).toBeUndefined();
    expect(incident.events.map((e) => e.matchedBy)).toEqual(["query", "query"]);
    expect(incident.entities.ips).toEqual([{ address: "10.0.0.7" }, { address: "10.0.0.8" }]);
    const payload = validateIncidentPayload(toPayload(incident));
    expect(payload.alertRows.map((r) => [r.IPAddress, r.CustomDetails])).toEqual([
      ["10.0.0.7", { Scanner: "advanced_ip_scanner.exe", RemotePort: "445" }],
      ["10.0.0.8", { Scanner: "advanced_ip_scanner.exe", RemotePort: "139" }],
    ]);
    // The Process mapping names InitiatingProcessCommandLine: that is the row's command line.
    expect(payload.alertRows[0].ProcessCommandLine).toBe("advanced_ip_scanner.exe /portable");
  });

  it("maps the AdFind rule's own account columns, not the initiating process's", () => {
    const adfind = ruleFrom("adfind-domain-recon.yaml");
    const incident = incidentOf(adfind, [
      makeEvent({
        FileName: "adfind.exe",
        FolderPath: "C:\\Tools\\adfind.exe",
        InitiatingProcessAccountName: "system",
        OtherColumns: { AccountName: "jdoe", AccountDomain: "contoso" },
      }),
    ]);
    const [row] = validateIncidentPayload(toPayload(incident)).alertRows;
    expect(row).toMatchObject({
      AccountName: "jdoe",
      AccountDomain: "contoso",
      FileName: "adfind.exe",
      FileDirectory: "C:\\Tools",
    });
    expect(incident.entities.accounts).toEqual([{ name: "jdoe", ntDomain: "contoso" }]);
  });

  it("keeps its text within Sentinel's limits, whatever the events hold", () => {
    const events = Array.from({ length: 60 }, (_, i) =>
      networkEvent({
        ReportId: String(i + 1),
        DeviceName: HOSTILE_STRINGS[i % HOSTILE_STRINGS.length] || "x",
        InitiatingProcessCommandLine: "A".repeat(30_000),
      }),
    );
    const incident = incidentOf(scanner, events);
    expect(incident.description.length).toBeLessThanOrEqual(DESCRIPTION_LIMIT);
    expect(incident.evidenceComment.length).toBeLessThanOrEqual(EVIDENCE_COMMENT_LIMIT);
    expect(incident.title.length).toBeLessThanOrEqual(255);
  });
});

describe("entityColumnsOf", () => {
  it("takes each alert column from the first mapping naming it; unknown identifiers are left out", () => {
    expect(
      entityColumnsOf([
        {
          entityType: "Host",
          fieldMappings: [{ identifier: "FullName", columnName: "DeviceName" }],
        },
        { entityType: "Account", fieldMappings: [{ identifier: "Sid", columnName: "AccountSid" }] },
        { entityType: "IP", fieldMappings: [{ identifier: "Address", columnName: "RemoteIP" }] },
        { entityType: "IP", fieldMappings: [{ identifier: "Address", columnName: "LocalIP" }] },
      ]),
    ).toEqual({ HostName: "DeviceName", IPAddress: "RemoteIP" });
  });
});
