import { Agent } from "node:https";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";
import { LocalStandinCredential } from "../../functions/azure/credentials";
import { loadDetectionRule } from "../../functions/detection/rule";
import type { DetectionEvent } from "../../functions/model";
import { buildQuery } from "../../functions/query/buildQuery";
import { planQuery } from "../../functions/query/window";
import { SchemaValidationError } from "../../functions/validation";
import { startLogAnalyticsStandin } from "../../sandbox/logAnalyticsStandin";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DataFileError } from "../../functions/dataFile";
import { loadSampleEvents, readSampleDocument, SAMPLE_EVENTS_FILE } from "../../sandbox/sampleData";
import sampleDocument from "../../sandbox/sample-events.json";
import { createLoopbackCertificate } from "../../sandbox/tls";

const MINUTE = 60 * 1000;
const DAY = 24 * 60 * MINUTE;
const LOOKBACK_MS = 7 * DAY;
const SETTLE_MS = 2 * MINUTE;

const now = new Date("2026-11-25T09:00:00.000Z");
const all = loadSampleEvents(now);
const rule = loadDetectionRule();
const knownHashes = new Set(rule.knownHashes.sha1);
const byName = (e: DetectionEvent) => e.FileName.toLowerCase() === rule.detectedFileName;
const byHash = (e: DetectionEvent) => knownHashes.has(e.SHA1);
/** The nbtscan hits among the ordinary events (the assertions below are about them). */
const events = all.filter((e) => byName(e) || byHash(e));
const ms = (iso: string) => new Date(iso).getTime();

describe("sample events for the local sandbox", () => {
  it("has 8-14 nbtscan hits among ordinary events, most of them not nbtscan", () => {
    expect(events.length).toBeGreaterThanOrEqual(8);
    expect(events.length).toBeLessThanOrEqual(14);
    expect(all.length - events.length).toBeGreaterThan(events.length);
    const others = all.filter((e) => !byName(e) && !byHash(e));
    const names = new Set(others.map((e) => e.FileName));
    // Lookalikes the name test must not match, and nbtscan mentioned where it does not look.
    expect(names).toContain("nbtstat.exe");
    expect(names).toContain("nbtscan.exe.bak");
    expect(others.some((e) => /nbtscan\.exe/.test(e.ProcessCommandLine))).toBe(true);
    expect(new Set(others.map((e) => e.SourceTable))).toEqual(
      new Set(["DeviceProcessEvents", "DeviceFileEvents"]),
    );
  });

  it("places every event inside the first run: in the lookback, ingested before the settle margin", () => {
    for (const e of all) {
      expect(ms(e.TimeGenerated)).toBeGreaterThan(now.getTime() - LOOKBACK_MS);
      expect(ms(e.IngestionTime)).toBeLessThan(now.getTime() - SETTLE_MS);
      expect(ms(e.IngestionTime)).toBeGreaterThanOrEqual(ms(e.TimeGenerated));
      expect(e.Timestamp).toBe(e.TimeGenerated);
    }
  });

  it("covers both tables with their action types", () => {
    const kinds = new Set(events.map((e) => `${e.SourceTable}/${e.ActionType}`));
    expect(kinds).toEqual(
      new Set(["DeviceProcessEvents/ProcessCreated", "DeviceFileEvents/FileCreated"]),
    );
    // A file event has no process command line of its own.
    for (const e of events.filter((x) => x.SourceTable === "DeviceFileEvents")) {
      expect(e.ProcessCommandLine).toBe("");
    }
  });

  it("has name-only, hash-only (renamed binary) and name+hash hits", () => {
    const renamed = events.filter((e) => byHash(e) && !byName(e));
    expect(renamed.length).toBeGreaterThanOrEqual(2);
    expect(new Set(renamed.map((e) => e.FileName))).toEqual(new Set(["svchost32.exe", "nbt.exe"]));
    expect(events.some((e) => byName(e) && !byHash(e))).toBe(true);
    expect(events.some((e) => byName(e) && byHash(e))).toBe(true);
    expect(new Set(events.filter(byHash).map((e) => e.SHA1))).toEqual(knownHashes);
  });

  it("spreads over several devices and accounts", () => {
    expect(new Set(events.map((e) => e.DeviceId)).size).toBeGreaterThanOrEqual(3);
    expect(new Set(events.map((e) => e.DeviceName)).size).toBeGreaterThanOrEqual(3);
    const accounts = new Set(
      events.map((e) => `${e.InitiatingProcessAccountDomain}\\${e.InitiatingProcessAccountName}`),
    );
    expect(accounts.size).toBeGreaterThanOrEqual(3);
    // Device names and ids pair one-to-one.
    const idsByName = new Map(events.map((e) => [e.DeviceName, e.DeviceId]));
    for (const e of events) expect(idsByName.get(e.DeviceName)).toBe(e.DeviceId);
  });

  it("has binaries in user Temp, ProgramData and Program Files", () => {
    const paths = events.map((e) => e.FolderPath);
    expect(paths.some((p) => /^C:\\Users\\[^\\]+\\AppData\\Local\\Temp\\/i.test(p))).toBe(true);
    expect(paths.some((p) => /^C:\\ProgramData\\/i.test(p))).toBe(true);
    expect(paths.some((p) => /^C:\\Program Files\\/i.test(p))).toBe(true);
  });

  it("has late events: generated days before they were ingested", () => {
    const late = events.filter((e) => ms(e.IngestionTime) - ms(e.TimeGenerated) >= DAY);
    expect(late.length).toBeGreaterThanOrEqual(1);
  });

  it("has the benign-looking cases triage should annotate", () => {
    const inventory = events.filter(
      (e) =>
        ["svchost.exe", "taskeng.exe"].includes(e.InitiatingProcessParentFileName.toLowerCase()) &&
        /inventory/i.test(e.ProcessCommandLine),
    );
    const sccm = events.filter(
      (e) =>
        (e.InitiatingProcessParentFileName.toLowerCase() === "ccmexec.exe" ||
          /sccm/i.test(e.FolderPath)) &&
        /\bpatch/i.test(`${e.ProcessCommandLine} ${e.InitiatingProcessCommandLine}`),
    );
    const adminCheck = events.filter(
      (e) =>
        e.InitiatingProcessFileName.toLowerCase() === "cmd.exe" &&
        /\b(check|status)\b/i.test(e.ProcessCommandLine),
    );
    expect(inventory.length).toBeGreaterThanOrEqual(1);
    expect(sccm.length).toBeGreaterThanOrEqual(1);
    expect(adminCheck.length).toBeGreaterThanOrEqual(1);
  });

  it("uses realistic identifiers and only private or documentation addresses", () => {
    for (const e of all) {
      expect(e.DeviceId).toMatch(/^[0-9a-f]{40}$/);
      expect(e.SHA256).toMatch(/^[0-9a-f]{64}$/);
      expect(e.ReportId).toMatch(/^[1-9]\d*$/);
    }
    const text = JSON.stringify(all);
    const addresses = text.match(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g) ?? [];
    expect(addresses.length).toBeGreaterThan(0);
    const allowed =
      /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|192\.0\.2\.|198\.51\.100\.|203\.0\.113\.)/;
    expect(addresses.filter((a) => !allowed.test(a))).toEqual([]);
  });

  it("rejects a malformed dataset", () => {
    const broken = structuredClone(sampleDocument) as { events: Record<string, unknown>[] };
    broken.events[0].SHA1 = "not-a-hash";
    expect(() => loadSampleEvents(now, broken)).toThrow(SchemaValidationError);
    const backwards = structuredClone(sampleDocument) as { events: Record<string, unknown>[] };
    backwards.events[0].ingestedMinutesAgo = 5000;
    backwards.events[0].timeGeneratedMinutesAgo = 10;
    expect(() => loadSampleEvents(now, backwards)).toThrow(/ingested before it happened/);
  });

  it("is returned in full to the first run's query through the stand-in", async () => {
    const tls = await createLoopbackCertificate();
    const agent = new Agent({ ca: tls.cert });
    const standin = await startLogAnalyticsStandin({ workspaceId: "ws", tls, events });
    try {
      const plan = planQuery({
        watermark: undefined,
        now,
        lookbackMs: LOOKBACK_MS,
        settleMs: SETTLE_MS,
      });
      if (!plan) throw new Error("the first run must have a window");
      const client = new LogsQueryClient(new LocalStandinCredential(), {
        endpoint: standin.url,
        agent,
      });
      const result = await client.queryWorkspace(
        "ws",
        buildQuery(rule.query, plan.window),
        plan.timespan,
      );
      if (result.status !== LogsQueryResultStatus.Success) throw new Error("expected Success");
      expect(result.tables[0].rows).toHaveLength(events.length);
    } finally {
      await standin.close();
      agent.destroy();
    }
  });
});

describe("a malformed events file", () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), "sample-events-"))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The error reading `text` as an events file gives, or undefined. */
  function failureOf(text: string): unknown {
    const file = path.join(dir, "events.json");
    writeFileSync(file, text);
    try {
      readSampleDocument(file);
      return undefined;
    } catch (error) {
      return error;
    }
  }

  it("is one line, file:line:col: message, never a stack trace", () => {
    // A trailing comma after the last event, on line 4.
    const failure = failureOf('{\n  "events": [\n    { "note": "x" }\n  ,]\n}\n');
    expect(failure).toBeInstanceOf(DataFileError);
    const message = (failure as Error).message;
    expect(message).toMatch(/^\/.*events\.json:4:4: \S.*$/);
    expect(message).not.toMatch(/\n| {4}at /);
  });

  it("names the line and column of a break on a later line, and of a truncated file", () => {
    expect(
      (failureOf('{ "events": [\n  { "note": "a" },\n  { "note": b }\n] }') as Error).message,
    ).toMatch(/events\.json:3:13: /);
    expect((failureOf('{ "events": [') as Error).message).toMatch(/events\.json:1:14: /);
  });

  it("a file that cannot be read is one line naming it", () => {
    expect(() => readSampleDocument(path.join(dir, "missing.json"))).toThrow(
      /^\/.*missing\.json: cannot be read \(ENOENT\)$/,
    );
  });

  it("the shipped file is read from disk and names itself in a schema problem", () => {
    expect(loadSampleEvents(now, readSampleDocument(SAMPLE_EVENTS_FILE))).toEqual(all);
    expect(() => loadSampleEvents(now, { events: [] }, "my-events.json")).toThrow(
      /^sample events \(my-events\.json\) is invalid/,
    );
  });
});
