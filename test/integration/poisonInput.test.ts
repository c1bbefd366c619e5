// Issue 8: no single row, setting or answer can stall the pipeline. Each test runs the real timer
// handler against Azurite and the local stand-ins with input an attacker or a broken upstream
// could produce, and checks the good hits still get through and the watermark still moves.
import { ConfigError } from "../../functions/config/config";
import { EVENT_COLUMNS, type DetectionEvent } from "../../functions/model";
import { loadDetectionRule } from "../../functions/detection/rule";
import { CALL_BYTES } from "../../functions/incidents/alertRows";
import { MAX_RECORD_BYTES } from "../../functions/incidents/budget";
import { buildQuery } from "../../functions/query/buildQuery";
import { inspectKql, loadTableSchemas, tableSchemaDir } from "../../sandbox/kusto";
import type { StandinFault } from "../../sandbox/logAnalyticsStandin";
import { resultTable } from "../../sandbox/logAnalyticsWire";
import { makeEvent } from "../support/events";
import { useSandboxes, MINUTE, type LogLine, type Sandbox, type SandboxOptions } from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const ago = (ms: number): string => new Date(START.getTime() - ms).toISOString();

const hostA = { DeviceName: "ws-a.contoso.local", DeviceId: "a".repeat(40) };
const hostB = { DeviceName: "ws-b.contoso.local", DeviceId: "b".repeat(40) };

/** A process event generated and ingested `minutesAgo` before START. */
function at(minutesAgo: number, overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  const time = ago(minutesAgo * MINUTE);
  return makeEvent({ TimeGenerated: time, Timestamp: time, IngestionTime: time, ...overrides });
}

const WINDOWS_MAX_COMMAND_LINE = 32_000;

const sandboxes = useSandboxes(START);
const sandbox = (options?: SandboxOptions): Promise<Sandbox> => sandboxes.create(options);

async function watermarkOf(s: Sandbox): Promise<string | undefined> {
  const row = await s.table
    .getEntity<{ Watermark: string }>(
      s.state.layout.watermarkPartition,
      s.state.layout.watermarkRow("routine"),
    )
    .catch(() => undefined);
  return row?.Watermark;
}

function deliveredReportIds(s: Sandbox): string[] {
  return s
    .delivered()
    .flatMap((i) => i.events.map((e) => e.ReportId))
    .sort();
}

/** A 200 answer to the detection query carrying exactly these rows, typed as the query types them. */
function answeringWith(events: DetectionEvent[]): StandinFault {
  const query = buildQuery(loadDetectionRule().query, { start: START, end: START });
  const columns = inspectKql(query, loadTableSchemas(tableSchemaDir())).resultColumns;
  if (!columns) throw new Error("the detection query returns a table");
  return { status: 200, body: { tables: [resultTable(columns, events)] } };
}

describe("poison rows are quarantined, the rest of the window proceeds", () => {
  it("records each with its reason, counts them, warns once, and moves the watermark", async () => {
    const good = [at(50, { ...hostA, ReportId: "1" }), at(40, { ...hostB, ReportId: "2" })];
    const poison = [
      at(45, { ...hostA, ReportId: "3", FileName: "", SHA1: "" }),
      at(44, { ...hostA, ReportId: "4", SourceTable: "DeviceEvents" }),
      at(43, { ...hostA, ReportId: "5", Timestamp: "" }),
      at(42, { ReportId: "6", DeviceName: "x".repeat(100_000) }),
    ];
    const s = await sandbox({ events: [...good, ...poison] });
    // The stand-in runs the query, which never selects the first two poison rows (no name or
    // hash; a table it does not read): a broken upstream answers with them all the same.
    s.la.enqueueFault(answeringWith([...good, ...poison]));
    const { summary, logs } = await s.run();

    expect(summary).toMatchObject({ rows: 2, quarantined: 4, new: 2, incidents: 2, delivered: 2 });
    expect(deliveredReportIds(s)).toEqual(["1", "2"]);
    expect(await watermarkOf(s)).toBe(summary.windowEnd);
    const warnings = logs.filter((l) => l.level === "warning" && /quarantined/.test(l.message));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toMatch(/^quarantined 4 row\(s\)/);
    const recorded = await s.state.allQuarantine();
    expect(recorded.map((q) => q.reason).sort()).toEqual([
      "DeviceName is 100000 characters long (an identifier has at most 256)",
      "FileName and SHA1 are both empty",
      "Timestamp is empty",
      "unknown SourceTable 'DeviceEvents'",
    ]);
    expect(recorded.every((q) => q.runId === summary.runId)).toBe(true);
    expect(recorded.find((q) => /DeviceName/.test(q.reason))?.rowTruncated).toBe(true);

    s.advance(5 * MINUTE);
    const second = await s.run();
    expect(second.summary).toMatchObject({ rows: 0, quarantined: 0, new: 0 });
  });

  it("quarantines a malformed or year-10000 datetime from Log Analytics instead of failing", async () => {
    const s = await sandbox();
    const good = at(30, { ...hostA, ReportId: "7" });
    const cells = (event: DetectionEvent, overrides: Record<string, unknown>) =>
      EVENT_COLUMNS.map((c) => (c in overrides ? overrides[c] : event[c]));
    s.la.enqueueFault({
      status: 200,
      body: {
        tables: [
          {
            name: "PrimaryResult",
            columns: EVENT_COLUMNS.map((name) => ({
              name,
              type: /Time/.test(name) ? "datetime" : "string",
            })),
            rows: [
              cells(good, {}),
              cells(at(31, hostB), { Timestamp: "not a time" }),
              cells(at(32, hostB), { Timestamp: "10000-01-01T00:00:00Z" }),
              cells(at(33, hostB), { Timestamp: null }),
            ],
          },
        ],
      },
    });
    const { summary } = await s.run();

    expect(summary).toMatchObject({ rows: 1, quarantined: 3, delivered: 1 });
    expect(deliveredReportIds(s)).toEqual(["7"]);
    expect(await watermarkOf(s)).toBe(summary.windowEnd);
    expect((await s.state.allQuarantine()).map((q) => q.reason).sort()).toEqual([
      "Timestamp holds a value that is not a datetime",
      "Timestamp holds a value that is not a datetime",
      "Timestamp is empty",
    ]);
  });
});

describe("an oversized incident", () => {
  it("twenty 32,000-character command lines on one device: every hit delivered once, the watermark moves", async () => {
    const long = (i: number) =>
      `nbtscan.exe ${String(i).padStart(3, "0")} ${"A".repeat(WINDOWS_MAX_COMMAND_LINE)}`.slice(
        0,
        WINDOWS_MAX_COMMAND_LINE,
      );
    const huge = Array.from({ length: 20 }, (_, i) =>
      at(60 - i, {
        ...hostA,
        ReportId: String(100 + i),
        ProcessCommandLine: long(i),
        InitiatingProcessCommandLine: `cmd.exe /c ${long(i)}`,
      }),
    );
    const goodOnB = [at(20, { ...hostB, ReportId: "200" }), at(19, { ...hostB, ReportId: "201" })];
    const s = await sandbox({ events: [...huge, ...goodOnB] });
    const { summary } = await s.run();

    expect(summary).toMatchObject({ new: 22, pending: 0, failed: 0 });
    expect(await watermarkOf(s)).toBe(summary.windowEnd);
    const incidents = s.delivered();
    const ids = deliveredReportIds(s);
    expect(ids).toEqual([...huge, ...goodOnB].map((e) => e.ReportId).sort());
    expect(new Set(incidents.map((i) => i.incidentId)).size).toBe(incidents.length);
    // Host A's evidence does not fit one entity: it is split, each part within the budget.
    const onA = incidents.filter((i) => i.entities.hosts[0].hostName === hostA.DeviceName);
    expect(onA.length).toBeGreaterThan(1);
    for (const { alertRows, ...record } of incidents) {
      expect(JSON.stringify(record).length * 2).toBeLessThanOrEqual(MAX_RECORD_BYTES);
      expect(Buffer.byteLength(JSON.stringify(alertRows))).toBeLessThanOrEqual(CALL_BYTES);
    }
    const cut = onA.flatMap((i) => i.events);
    expect(cut.every((e) => e.truncated?.ProcessCommandLine === WINDOWS_MAX_COMMAND_LINE)).toBe(
      true,
    );
    expect(cut.every((e) => e.ProcessCommandLine.endsWith("…"))).toBe(true);
    expect(cut.every((e) => e.SHA1 === huge[0].SHA1 && e.DeviceId === hostA.DeviceId)).toBe(true);
    // Stored as sent: the outbox holds the same, delivered.
    const outbox = await s.state.allOutbox();
    expect(outbox.map((o) => o.status)).toEqual(incidents.map(() => "delivered"));
  });
});

describe("a missing ReportId", () => {
  it("keeps two different hits on one device at one instant apart, and says the key is a hash", async () => {
    const same = { ...hostA, ReportId: "" };
    const one = at(30, { ...same, ProcessCommandLine: "nbtscan.exe -r 10.0.0.0/24" });
    const two = at(30, { ...same, ProcessCommandLine: "nbtscan.exe -r 10.9.0.0/16" });
    const s = await sandbox({ events: [one, two] });
    const { summary } = await s.run();

    expect(summary).toMatchObject({ rows: 2, new: 2, duplicates: 0 });
    const events = s.delivered().flatMap((i) => i.events);
    expect(events.map((e) => e.ProcessCommandLine).sort()).toEqual([
      one.ProcessCommandLine,
      two.ProcessCommandLine,
    ]);
    expect(new Set(events.map((e) => e.eventKey)).size).toBe(2);
    expect(events.every((e) => e.eventKeyBasis === "contentHash")).toBe(true);
    expect(events.every((e) => /\|sha256:[0-9a-f]{64}$/.test(e.eventKey))).toBe(true);

    // The same rows read again (a window re-read after a crash) are duplicates, not new hits.
    await s.table.deleteEntity(
      s.state.layout.watermarkPartition,
      s.state.layout.watermarkRow("routine"),
    );
    const again = await s.run();
    expect(again.summary).toMatchObject({ rows: 2, new: 0, duplicates: 2 });
  });
});

describe("a setting that is accepted but broken", () => {
  it("fails the invocation with one error line naming each setting, never a stack trace", async () => {
    const s = await sandbox({
      env: {
        LOOKBACK: "P999999999D",
        DETECTION_SCHEDULE: "99 99 99 99 99 99",
        PLAYBOOK_TIMEOUT: "PT597H",
        STATE_TABLE_CONNECTION_STRING: "garbage",
      },
    });
    const failure = (await s.run().catch((e: unknown) => e)) as Error & { logs: LogLine[] };

    expect(failure).toBeInstanceOf(ConfigError);
    const errors = failure.logs.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0].message).not.toMatch(/\n|\s+at /);
    const named = errors[0].message.match(
      /(?<=^nbtscan-detector run failed: Invalid configuration: |\| )[A-Z_]+/g,
    );
    expect(named).toEqual([
      "LOOKBACK",
      "DETECTION_SCHEDULE",
      "STATE_TABLE_CONNECTION_STRING",
      "PLAYBOOK_TIMEOUT",
    ]);
    expect(s.la.requests).toEqual([]);
  });
});

describe("a catastrophic regular expression", () => {
  it("an exclusion (a+)+$ against a 32,000-character command line: the run ends and delivers", async () => {
    const exclusions = JSON.stringify({
      exclusions: [
        {
          name: "catastrophic",
          expires: "2027-01-31",
          condition: { column: "ProcessCommandLine", matches: "(a+)+$" },
        },
      ],
    });
    const attacker = at(30, { ...hostA, ProcessCommandLine: `${"a".repeat(32_000)}!` });
    const s = await sandbox({ events: [attacker], env: { EXCLUSIONS: exclusions } });
    const { summary } = await s.run();

    expect(summary).toMatchObject({ new: 1, suppressed: 0, delivered: 1 });
  });
});
