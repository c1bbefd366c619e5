// Issue 7: each run knows whether the Defender tables it reads are alive. The real timer handler
// runs against Azurite and the Log Analytics stand-in, which serves the liveness query from what
// it holds: alive tables are reported with their last ingestion time, a silent one is warned
// about on the line the data-liveness alert watches, and a missing one fails the run with one
// error line naming the table and the connector.
import { DATA_SILENCE } from "../../functions/run/runLog";
import { makeEvent } from "../support/events";
import {
  useSandboxes,
  MINUTE,
  type Invocation,
  type LogLine,
  type Sandbox,
  type SandboxOptions,
} from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const HOUR = 60 * MINUTE;
const ago = (ms: number): Date => new Date(START.getTime() - ms);

const sandboxes = useSandboxes(START);
const sandbox = (options?: SandboxOptions): Promise<Sandbox> => sandboxes.create(options);

function silenceLines(logs: LogLine[]): LogLine[] {
  return logs.filter((line) => line.message.includes(DATA_SILENCE));
}

describe("Defender table liveness", () => {
  it("alive: records each table's last ingestion in the summary and warns about nothing", async () => {
    const hit = makeEvent({
      SourceTable: "DeviceFileEvents",
      TimeGenerated: ago(30 * MINUTE).toISOString(),
      Timestamp: ago(30 * MINUTE).toISOString(),
      IngestionTime: ago(20 * MINUTE).toISOString(),
    });
    const s = await sandbox({
      events: [hit],
      tableActivity: { DeviceProcessEvents: ago(3 * MINUTE), DeviceFileEvents: ago(2 * HOUR) },
    });
    const { summary, logs } = await s.run();
    expect(summary.tablesLastIngested).toEqual({
      DeviceProcessEvents: ago(3 * MINUTE).toISOString(),
      // The hit itself is the newest DeviceFileEvents row.
      DeviceFileEvents: ago(20 * MINUTE).toISOString(),
    });
    expect(silenceLines(logs)).toEqual([]);
    expect(s.delivered()).toHaveLength(1);
    // One light query for liveness, over DATA_SILENCE_WARNING (default P1D) before the run.
    const liveness = s.la.requests.filter((r) => r.liveness);
    expect(liveness.map((r) => [r.status, r.timespan])).toEqual([
      [200, `${ago(24 * HOUR).toISOString()}/${START.toISOString()}`],
    ]);
  });

  it("silent: a table with nothing for DATA_SILENCE_WARNING gets one warning naming it, the run goes on", async () => {
    const s = await sandbox({
      tableActivity: { DeviceProcessEvents: ago(5 * MINUTE), DeviceFileEvents: ago(7 * HOUR) },
      env: { DATA_SILENCE_WARNING: "PT6H" },
    });
    const { summary, logs }: Invocation = await s.run();
    // Nothing inside the six hours the check spans: no time, and the warning says so.
    expect(summary.tablesLastIngested).toEqual({
      DeviceProcessEvents: ago(5 * MINUTE).toISOString(),
      DeviceFileEvents: null,
    });
    const lines = silenceLines(logs);
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe("warning");
    expect(lines[0].message).toMatch(
      new RegExp(
        `^${DATA_SILENCE}: DeviceFileEvents received nothing for DATA_SILENCE_WARNING \\(PT6H\\)\\. ` +
          "Detection 'nbtscan\\.exe NetBIOS network discovery \\(S0590\\)' finds nothing while" +
          ".*Microsoft Defender for Endpoint data connector \\(MicrosoftThreatProtection\\)",
      ),
    );
    // The detection itself still ran and moved on.
    expect(summary.windowEnd).not.toBeNull();
  });

  it("silent for good: with the default P1D, a table last fed two days ago is reported silent", async () => {
    const s = await sandbox({
      tableActivity: { DeviceProcessEvents: ago(2 * 24 * HOUR), DeviceFileEvents: ago(MINUTE) },
    });
    const { summary, logs } = await s.run();
    expect(summary.tablesLastIngested).toMatchObject({ DeviceProcessEvents: null });
    expect(silenceLines(logs).map((l) => l.message)).toEqual([
      expect.stringMatching(
        /^nbtscan-detector data silence: DeviceProcessEvents received nothing for DATA_SILENCE_WARNING \(P1D\)/,
      ),
    ]);
  });

  it("missing: the run fails with one error line naming the table and the connector", async () => {
    const s = await sandbox({ missingTables: ["DeviceFileEvents"] });
    const failure = (await s.run().catch((error: unknown) => error)) as Error & { logs: LogLine[] };
    expect(failure).toBeInstanceOf(Error);
    expect(failure.name).toBe("MissingTableError");
    const errors = failure.logs.filter((line) => line.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(
      /^nbtscan-detector run failed: nbtscan-detector data silence: table DeviceFileEvents is missing from the Log Analytics workspace, so the detection cannot run\. Connect Microsoft Defender for Endpoint to Microsoft Sentinel \(data connector MicrosoftThreatProtection, "Microsoft Defender XDR"\) with DeviceFileEvents enabled\. \(detection 'nbtscan\.exe NetBIOS network discovery \(S0590\)', rule [0-9a-f-]{36}\)$/,
    );
    expect(errors[0].message).not.toContain("\n");
    // Nothing else was attempted: only the liveness query reached the workspace.
    expect(s.la.requests.map((r) => [r.liveness, r.status])).toEqual([[true, 400]]);
    expect(s.delivered()).toEqual([]);
  });
});
