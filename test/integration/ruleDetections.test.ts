// The two shipped detections beside nbtscan, each on its own, end to end against Azurite and the
// stand-ins: the Log Analytics stand-in runs each rule's compiled KQL over the sandbox's rule
// samples (sandbox/sample-events.rules.json), hits and near misses. Each hit is raised once, the
// second run finds nothing new, and a late-ingested hit is raised once by the catch-up pass.
import path from "node:path";
import type { DetectionEvent } from "../../functions/model";
import { loadRuleSampleEvents } from "../../sandbox/sampleData";
import { shippedDetections } from "../support/compiled";
import { useSandboxes, MINUTE, type Sandbox } from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const DAY = 24 * 60 * MINUTE;
const ago = (ms: number): string => new Date(START.getTime() - ms).toISOString();
const sandboxes = useSandboxes(START);

interface Case {
  file: string;
  /** The sample events the rule's query returns, by ReportId (the others are near misses). */
  hits: string[];
  nearMiss: string;
  /** What the alert rows carry from the rule's entity mappings and custom details. */
  rows: Record<string, unknown>[];
}

const CASES: Case[] = [
  {
    file: "adfind-domain-recon.yaml",
    hits: ["48390", "48402"],
    nearMiss: "51877",
    rows: [
      {
        AccountName: "jdoe",
        AccountDomain: "contoso",
        FileName: "adfind.exe",
        FileDirectory: "C:\\Users\\jdoe\\AppData\\Local\\Temp",
        ProcessCommandLine: 'adfind.exe -f "(objectcategory=computer)" > ad_computers.txt',
        CustomDetails: { ParentProcess: "cmd.exe" },
      },
      {
        ProcessCommandLine: "adfind.exe -gcb -sc trustdmp > trustdmp.txt",
        CustomDetails: { ParentProcess: "cmd.exe" },
      },
    ],
  },
  {
    file: "network-scanner-smb-sweep.yaml",
    hits: ["77201", "77202"],
    nearMiss: "77188",
    rows: [
      {
        HostName: "ws-ops-044",
        IPAddress: "10.20.4.11",
        AccountName: "mlee",
        CustomDetails: { Scanner: "advanced_ip_scanner.exe", RemotePort: "445" },
      },
      {
        IPAddress: "10.20.4.12",
        CustomDetails: { Scanner: "advanced_ip_scanner.exe", RemotePort: "139" },
      },
    ],
  },
];

function ruleOf(file: string): { id: string; name: string; relevantTechniques: string[] } {
  const rule = shippedDetections().rules.find((r) => path.basename(r.file) === file);
  if (!rule || rule.ruleClass === "refused") throw new Error(`${file} did not load`);
  return rule;
}

function eventKeysOf(sandbox: Sandbox): string[] {
  return sandbox.delivered().flatMap((i) => i.events.map((e) => e.eventKey));
}

describe.each(CASES)("$file end to end", ({ file, hits, nearMiss, rows }) => {
  const rule = ruleOf(file);

  it("raises each hit once, with the rule's text and mappings; the near miss never", async () => {
    const s = await sandboxes.create({ events: loadRuleSampleEvents(START), ruleIds: [rule.id] });
    const { summary } = await s.run();
    expect(summary).toMatchObject({
      detectionId: rule.id,
      rows: hits.length,
      new: hits.length,
      quarantined: 0,
      delivered: 1,
      failed: 0,
    });
    const [incident] = s.delivered();
    expect(incident.events.map((e) => e.ReportId)).toEqual(hits);
    expect(incident.events.map((e) => e.ReportId)).not.toContain(nearMiss);
    expect(incident.events.every((e) => e.matchedBy === "query")).toBe(true);
    expect(incident).toMatchObject({
      severity: "Medium",
      tactics: ["Discovery"],
      techniques: rule.relevantTechniques,
      detection: { id: rule.id, name: rule.name },
      references: [],
    });
    // No nbtscan enrichment for a rule without a meta side file.
    expect(incident.attack).toBeUndefined();
    expect(incident.description).toContain("### MITRE ATT&CK");
    expect(incident.alertRows).toMatchObject(rows);
    expect(incident.alertRows.every((r) => r.DetectionId === rule.id)).toBe(true);
  });

  it("finds nothing new on the second run", async () => {
    const s = await sandboxes.create({ events: loadRuleSampleEvents(START), ruleIds: [rule.id] });
    await s.run();
    s.advance(5 * MINUTE);
    const { summary } = await s.run();
    expect(summary).toMatchObject({ rows: 0, new: 0, incidents: 0, delivered: 0 });
    expect(s.playbook.received).toHaveLength(1);
  });

  it("raises a hit ingested days late once, in the catch-up pass", async () => {
    const events = loadRuleSampleEvents(START);
    const s = await sandboxes.create({ events, ruleIds: [rule.id] });
    await s.run();
    // A copy of the first hit, generated five days before it reached the workspace a minute
    // after START: after the first window closed, older than the routine pass reads.
    const hit = events.find((e) => e.ReportId === hits[0]) as DetectionEvent;
    const late: DetectionEvent = {
      ...hit,
      ReportId: "990001",
      TimeGenerated: ago(5 * DAY),
      Timestamp: ago(5 * DAY),
      IngestionTime: ago(-MINUTE),
    };
    s.la.addEvents([late]);
    s.advance(5 * MINUTE);
    expect((await s.run()).summary).toMatchObject({ new: 0, catchUp: null });
    s.advance(55 * MINUTE);
    const third = await s.run();
    expect(third.summary.catchUp).toMatchObject({ rows: 1, new: 1, incidents: 1 });
    s.advance(60 * MINUTE);
    expect((await s.run()).summary.catchUp).toMatchObject({ new: 0 });

    const keys = eventKeysOf(s);
    expect(keys.filter((k) => k.endsWith(`|${late.ReportId}`))).toHaveLength(1);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toHaveLength(hits.length + 1);
  });
});

describe("exclusions across detections", () => {
  const adfind = ruleOf("adfind-domain-recon.yaml");

  it("an exclusion without rules stays nbtscan's; one naming a rule suppresses that rule's hit", async () => {
    // Both match AdFind's two hits by file name; only the one naming AdFind's rule may apply,
    // and it narrows itself to one of them.
    const exclusions = JSON.stringify({
      exclusions: [
        {
          name: "written-for-nbtscan",
          expires: "2027-01-01",
          condition: { column: "FileName", equals: "adfind.exe" },
        },
        {
          name: "trust-dump-by-ad-team",
          expires: "2027-01-01",
          rules: [adfind.id],
          condition: { column: "ProcessCommandLine", contains: "trustdmp" },
        },
      ],
    });
    const s = await sandboxes.create({
      events: loadRuleSampleEvents(START),
      ruleIds: [adfind.id],
      env: { EXCLUSIONS: exclusions },
    });
    const { summary } = await s.run();
    expect(summary).toMatchObject({
      new: 1,
      suppressed: 1,
      suppressedBy: { "trust-dump-by-ad-team": 1 },
    });
    expect(s.delivered().flatMap((i) => i.events.map((e) => e.ReportId))).toEqual(["48390"]);
  });
});
