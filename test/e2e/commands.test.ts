// The two commands a person runs, as they run them: the compiled `detect` command line and the
// `npm start` sandbox, each in its own process. Built once here, like `npm start` builds.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { EXIT } from "../../functions/cli/detect";
import { startAzuriteTable, type AzuriteTable } from "../../sandbox/azurite";
import { cleanEnv, outputOf, type Finished } from "../../sandbox/childProcess";
import { freeLoopbackPort, LOOPBACK } from "../../sandbox/loopback";
import { TableClient } from "@azure/data-tables";
import { loadDetectionRule } from "../../functions/detection/rule";
import { detectionKey } from "../../functions/state/detectionKey";
import { StateStore } from "../../functions/state/stateStore";
import {
  startLogAnalyticsStandin,
  type LogAnalyticsStandin,
} from "../../sandbox/logAnalyticsStandin";
import { loadRuleSampleEvents, loadSampleEvents } from "../../sandbox/sampleData";
import { makeEvent } from "../support/events";
import { createLoopbackCertificate, type LoopbackCertificate } from "../../sandbox/tls";

const ROOT = path.resolve(__dirname, "../..");
const WORKSPACE_ID = "00000000-0000-4000-8000-0000000000e2";

let work: string;
let caFile: string;
let la: LogAnalyticsStandin;
let azurite: AzuriteTable;
/** The sample events that are nbtscan hits (name or known hash): what the query returns. */
let hitCount: number;
let tls: LoopbackCertificate;

beforeAll(async () => {
  execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "pipe" });
  work = mkdtempSync(path.join(tmpdir(), "nbtscan-e2e-"));
  tls = await createLoopbackCertificate();
  caFile = path.join(work, "ca.pem");
  writeFileSync(caFile, tls.cert);
  azurite = await startAzuriteTable();
  const events = loadSampleEvents(new Date());
  const rule = loadDetectionRule();
  hitCount = events.filter(
    (e) =>
      e.FileName.toLowerCase() === rule.detectedFileName || rule.knownHashes.sha1.includes(e.SHA1),
  ).length;
  // The other detections' samples too, as npm start serves them.
  const all = [...events, ...loadRuleSampleEvents(new Date())];
  la = await startLogAnalyticsStandin({ workspaceId: WORKSPACE_ID, tls, events: all });
}, 120_000);

afterAll(async () => {
  await la?.close();
  await azurite?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Runs a compiled script in a child process, the way the npm scripts do. */
function runNode(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  // Asynchronous, so this process keeps serving the stand-in the child talks to.
  const child = spawn(process.execPath, [path.join(ROOT, script), ...args], {
    env,
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return outputOf(child);
}

/** Fails with the child's output when it did not exit as expected. */
function expectExit(result: Finished, status: number): void {
  if (result.status !== status) {
    throw new Error(
      `exit ${String(result.status)}, expected ${status}\n--- stdout\n${result.stdout.slice(-3000)}\n--- stderr\n${result.stderr.slice(-3000)}`,
    );
  }
}

/** The settings that point `detect` at this file's stand-in and Azurite, for a workspace id. */
function standinEnv(workspaceId: string): NodeJS.ProcessEnv {
  return cleanEnv({
    LOG_ANALYTICS_WORKSPACE_ID: workspaceId,
    LOG_ANALYTICS_ENDPOINT: la.url,
    // Read-only in a dry run: the table does not even exist yet.
    STATE_TABLE_CONNECTION_STRING: azurite.connectionString,
    NODE_EXTRA_CA_CERTS: caFile,
  });
}

/** Whether something listens on this loopback port. */
function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, LOOPBACK);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

const DETECT = "dist/functions/cli/detect.js";
/**
 * nbtscan's run alone (`--rule`): the command line's own behaviour (settings, failures, exit
 * codes) shown on one detection; "every detection" has its own test below.
 */
const NBTSCAN = ["--rule", loadDetectionRule().id];
/** How a failure line names its detection (nbtscan's, the only one these runs run). */
const RULE_LABEL =
  " \\(detection 'nbtscan\\.exe NetBIOS network discovery \\(S0590\\)', rule [0-9a-f-]{36}\\)";

describe("npm run detect (compiled command line)", () => {
  it("--dry-run queries and prints the incidents it would send, trusting NODE_EXTRA_CA_CERTS", async () => {
    const result = await runNode(
      DETECT,
      [...NBTSCAN, "--dry-run", "--json"],
      standinEnv(WORKSPACE_ID),
    );
    expectExit(result, EXIT.ok);
    const { summary, incidents } = JSON.parse(result.stdout) as {
      summary: { dryRun: boolean; rows: number; incidents: number };
      incidents: { incidentId: string }[];
    };
    expect(summary).toMatchObject({ dryRun: true, rows: hitCount });
    expect(incidents).toHaveLength(summary.incidents);
    expect(summary.incidents).toBeGreaterThan(0);
  });

  it("without --rule runs every shipped detection in order, nbtscan first, each its own hits", async () => {
    const result = await runNode(DETECT, ["--dry-run", "--json"], standinEnv(WORKSPACE_ID));
    expectExit(result, EXIT.ok);
    const { runs } = JSON.parse(result.stdout) as {
      runs: { summary: { detection: string; rows: number; incidents: number } }[];
    };
    expect(runs.map((r) => [r.summary.detection, r.summary.rows])).toEqual([
      [loadDetectionRule().name, hitCount],
      ["AdFind Active Directory reconnaissance (S0552)", 2],
      ["GUI network scanner sweeping NetBIOS and SMB ports", 2],
    ]);
    expect(runs.every((r) => r.summary.incidents > 0)).toBe(true);
  });

  it("exits 2 and names the setting when the configuration is bad", async () => {
    const result = await runNode(DETECT, [], cleanEnv({ LOOKBACK: "forever" }));
    expectExit(result, EXIT.badConfiguration);
    expect(result.stderr).toMatch(/LOG_ANALYTICS_WORKSPACE_ID is not set/);
    expect(result.stderr).toMatch(/LOOKBACK is 'forever'; expected an ISO 8601 duration/);
  });

  it("exits 2 with one line per bad setting, never a stack trace, whatever the setting", async () => {
    const settings = {
      LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE_ID,
      PLAYBOOK_URL: "https://127.0.0.1:1/playbook",
      STATE_TABLE_CONNECTION_STRING: "garbage",
      DETECTION_SCHEDULE: "99 99 99 99 99 99",
      LOOKBACK: "P999999999D",
      QUERY_TIMEOUT: "PT597H",
      PLAYBOOK_TIMEOUT: "PT597H",
      EXCLUSIONS: "exclusions: []",
      EXCLUSIONS_FILE: path.join(work, "missing.yaml"),
    };
    const result = await runNode(DETECT, [], cleanEnv(settings));
    expectExit(result, EXIT.badConfiguration);
    const lines = result.stderr.trim().split("\n");
    expect(lines.map((line) => /^Invalid configuration: ([A-Z_]+)/.exec(line)?.[1])).toEqual([
      "LOOKBACK",
      "DETECTION_SCHEDULE",
      "STATE_TABLE_CONNECTION_STRING",
      "QUERY_TIMEOUT",
      "PLAYBOOK_TIMEOUT",
      "EXCLUSIONS_FILE",
    ]);
    for (const file of [path.join(work, "missing.yaml"), work]) {
      const missing = await runNode(
        DETECT,
        [],
        cleanEnv({
          ...settings,
          EXCLUSIONS: "",
          EXCLUSIONS_FILE: file,
          STATE_TABLE_CONNECTION_STRING: azurite.connectionString,
          DETECTION_SCHEDULE: "0 */5 * * * *",
          LOOKBACK: "P7D",
          QUERY_TIMEOUT: "PT1M",
          PLAYBOOK_TIMEOUT: "PT1M",
        }),
      );
      expectExit(missing, EXIT.badConfiguration);
      expect(missing.stderr.trim()).toMatch(
        /^Invalid configuration: EXCLUSIONS_FILE '[^\n]*' (does not exist|is not a regular file)[^\n]*$/,
      );
    }
  });

  it("exits 1 when the run itself fails (an unknown workspace), in one line; the stack with --verbose", async () => {
    const env = standinEnv("99999999-0000-4000-8000-000000000000");
    const result = await runNode(DETECT, [...NBTSCAN, "--dry-run"], env);
    expectExit(result, EXIT.runFailed);
    expect(result.stderr.trim()).toMatch(/^Run failed: [^\n]*workspace[^\n]*$/i);

    const verbose = await runNode(DETECT, [...NBTSCAN, "--dry-run", "--verbose"], env);
    expectExit(verbose, EXIT.runFailed);
    expect(verbose.stderr).toMatch(/^Run failed: .*\n.*Error.*\n\s+at /i);
  });

  it("skips a poison row with one warning and exits 0: never a configuration error", async () => {
    const now = new Date();
    const recent = new Date(now.getTime() - 30 * 60_000).toISOString();
    const good = makeEvent({ TimeGenerated: recent, Timestamp: recent, IngestionTime: recent });
    // A null Timestamp once failed the incident's schema check and read as bad configuration.
    const poison = { ...good, ReportId: "999", Timestamp: "" };
    const poisoned = await startLogAnalyticsStandin({
      workspaceId: WORKSPACE_ID,
      tls,
      events: [good, poison],
      // Both tables alive, so the poison row's warning is the only one.
      tableActivity: { DeviceProcessEvents: now, DeviceFileEvents: now },
    });
    try {
      const result = await runNode(DETECT, [...NBTSCAN, "--dry-run", "--json"], {
        ...standinEnv(WORKSPACE_ID),
        LOG_ANALYTICS_ENDPOINT: poisoned.url,
      });
      expectExit(result, EXIT.ok);
      expect(JSON.parse(result.stdout)).toMatchObject({ summary: { rows: 1, quarantined: 1 } });
      expect(result.stderr.trim()).toMatch(
        /^warning: quarantined 1 row\(s\)[^\n]*Timestamp is empty$/,
      );
    } finally {
      await poisoned.close();
    }
  });

  it("--help prints the usage", async () => {
    const result = await runNode(DETECT, ["--help"], cleanEnv({}));
    expectExit(result, EXIT.ok);
    expect(result.stdout).toMatch(/--dry-run/);
  });
});

/** Milliseconds the child lived after its last line: nothing may keep it running. */
function lingeredMs(result: Finished): number {
  return result.exitedAt - result.lastOutputAt;
}

// A run ends when its work ends: with a service unreachable the result is printed at once, and
// the process exits right after it, not when a request's timeout (QUERY_TIMEOUT PT2M,
// PLAYBOOK_TIMEOUT PT30S) or a retry's delay would have fired.
describe("npm run detect ends when its work ends, and names what failed", () => {
  const LINGER_MS = 3000;
  let closedPort: number;
  beforeAll(async () => {
    closedPort = await freeLoopbackPort();
  });

  it("Log Analytics unreachable: one line naming it and LOG_ANALYTICS_ENDPOINT, exit right after", async () => {
    const endpoint = `https://${LOOPBACK}:${closedPort}/v1`;
    const result = await runNode(DETECT, [...NBTSCAN, "--dry-run"], {
      ...standinEnv(WORKSPACE_ID),
      LOG_ANALYTICS_ENDPOINT: endpoint,
    });
    expectExit(result, EXIT.runFailed);
    expect(result.stderr.trim()).toMatch(
      new RegExp(
        `^Run failed: Log Analytics at ${endpoint} cannot be reached \\(connect ECONNREFUSED [^\\n]*\\); check LOG_ANALYTICS_ENDPOINT and LOG_ANALYTICS_WORKSPACE_ID${RULE_LABEL}$`,
      ),
    );
    expect(lingeredMs(result)).toBeLessThan(LINGER_MS);
  }, 60_000);

  it("Table Storage unreachable: one line naming it and STATE_TABLE_CONNECTION_STRING, exit right after", async () => {
    const table = `http://${LOOPBACK}:${closedPort}/devstoreaccount1`;
    const result = await runNode(DETECT, [...NBTSCAN, "--dry-run"], {
      ...standinEnv(WORKSPACE_ID),
      STATE_TABLE_CONNECTION_STRING: azurite.connectionString.replace(
        /TableEndpoint=[^;]+/,
        `TableEndpoint=${table}`,
      ),
    });
    expectExit(result, EXIT.runFailed);
    expect(result.stderr.trim()).toMatch(
      new RegExp(
        `^Run failed: Table Storage at ${table} cannot be reached \\(connect ECONNREFUSED [^\\n]*\\); check STATE_TABLE_CONNECTION_STRING and STATE_TABLE_NAME${RULE_LABEL}$`,
      ),
    );
    expect(lingeredMs(result)).toBeLessThan(LINGER_MS);
  }, 60_000);

  it("playbook unreachable: each incident stays pending, its warning names PLAYBOOK_URL, exit 3 right after", async () => {
    const playbook = `https://${LOOPBACK}:${closedPort}/playbook`;
    const result = await runNode(DETECT, NBTSCAN, {
      ...standinEnv(WORKSPACE_ID),
      STATE_TABLE_NAME: "runendsplaybook",
      PLAYBOOK_URL: `${playbook}?sig=s3cret`,
    });
    expectExit(result, EXIT.undelivered);
    const warnings = result.stderr.trim().split("\n");
    expect(warnings.length).toBeGreaterThan(0);
    for (const warning of warnings) {
      expect(warning).toMatch(
        new RegExp(
          `^warning: incident \\S+ not delivered \\(attempt 1\\), will retry next run: the playbook at ${playbook} cannot be reached \\(connect ECONNREFUSED .*\\); check PLAYBOOK_URL$`,
        ),
      );
    }
    expect(result.stderr).not.toMatch(/s3cret/);
    expect(lingeredMs(result)).toBeLessThan(LINGER_MS);
  }, 120_000);

  it("a certificate Node does not trust: names the host and NODE_EXTRA_CA_CERTS", async () => {
    const { NODE_EXTRA_CA_CERTS: _trusted, ...untrusting } = standinEnv(WORKSPACE_ID);
    const result = await runNode(DETECT, [...NBTSCAN, "--dry-run"], untrusting);
    expectExit(result, EXIT.runFailed);
    const host = new URL(la.url).host;
    expect(result.stderr.trim()).toMatch(
      new RegExp(
        `^Run failed: Log Analytics at ${la.url.replace(/\/$/, "")}: TLS certificate of ${host} not trusted \\([^\\n]*\\); add its CA certificate to NODE_EXTRA_CA_CERTS, or check LOG_ANALYTICS_ENDPOINT and LOG_ANALYTICS_WORKSPACE_ID${RULE_LABEL}$`,
      ),
    );
    expect(lingeredMs(result)).toBeLessThan(LINGER_MS);
  }, 60_000);

  it("another run holds the lease: says so once, exit 0", async () => {
    const tableName = "leaseheldonce";
    const table = TableClient.fromConnectionString(azurite.connectionString, tableName, {
      allowInsecureConnection: true,
    });
    const other = new StateStore(table, detectionKey(loadDetectionRule().id, WORKSPACE_ID));
    await other.acquireLease({
      owner: "another-run",
      mode: "routine",
      durationMs: 600_000,
      now: () => new Date(),
    });
    const result = await runNode(DETECT, NBTSCAN, {
      ...standinEnv(WORKSPACE_ID),
      STATE_TABLE_NAME: tableName,
      PLAYBOOK_URL: `https://${LOOPBACK}:${closedPort}/playbook`,
    });
    expectExit(result, EXIT.ok);
    const output = `${result.stdout}${result.stderr}`;
    expect(output.match(/another-run/g)).toHaveLength(1);
    expect(result.stdout.trim()).toMatch(/^Nothing done: .*another-run.*\.$/);
  }, 60_000);
});

describe("npm start (the local sandbox)", () => {
  it("delivers incidents on the first run, nothing new on the second, and stops what it started", async () => {
    const result = await runNode("dist/sandbox/start.js", [], cleanEnv({}));
    expectExit(result, 0);
    expect(result.stdout).toMatch(
      /OK: run 1 delivered \d+ incident\(s\); run 2 delivered nothing new\./,
    );
    expect(result.stdout).toMatch(/### Next steps/);
    // Every shipped detection ran, nbtscan first, each twice (runs 1 and 2), and reached Sentinel.
    const ran = [...result.stdout.matchAll(/^Detection run: (.*) \([0-9a-f-]{36}\)$/gm)].map(
      (m) => m[1],
    );
    expect(ran).toEqual([
      "nbtscan.exe NetBIOS network discovery (S0590)",
      "AdFind Active Directory reconnaissance (S0552)",
      "GUI network scanner sweeping NetBIOS and SMB ports",
      "nbtscan.exe NetBIOS network discovery (S0590)",
      "AdFind Active Directory reconnaissance (S0552)",
      "GUI network scanner sweeping NetBIOS and SMB ports",
    ]);
    expect(result.stdout).toMatch(
      /^Incident: {2}advanced_ip_scanner\.exe swept NetBIOS\/SMB from /m,
    );
    expect(result.stdout).toMatch(/^ {2}IP {8}Address=10\.20\.4\.11$/m);
    // The plain summary names the exclusion that suppressed the hit: a row of the sandbox's
    // Sentinel watchlist, read through the Log Analytics stand-in (EXCLUSIONS_WATCHLIST).
    expect(result.stdout).toMatch(/Sentinel watchlist\s+nbtscan-exclusions/);
    expect(result.stdout).toMatch(/suppressed\s*│\s*'1 \(sccm-patch-scan-srv-app-02: 1\)'/);
    // The description reads as text: no Markdown escapes of host names or paths.
    expect(result.stdout).not.toMatch(/contoso\\\.local|\\\(/);
    // The data-liveness figure: when each Defender table last received data.
    expect(result.stdout).toMatch(/DeviceProcessEvents last ingested\s*│\s*'?\d{4}-\d\d-\d\dT/);
    expect(result.stdout).toMatch(/DeviceFileEvents last ingested\s*│\s*'?\d{4}-\d\d-\d\dT/);
    expect(result.stdout).not.toMatch(/data silence/);
    // What Sentinel would make of the rows, on its clock: alerts with entities, one incident per
    // incidentId, the latency figures, and no alert from a day more of rule runs.
    expect(result.stdout).toMatch(
      /Sentinel \(simulated, on its clock\): \d+ row\(s\) ingested, \d+ alert\(s\), \d+ incident\(s\)/,
    );
    expect(result.stdout).toMatch(/The rule ran \d+ time\(s\) in 2 hours/);
    expect(result.stdout).toMatch(/Entities \(\d+\):\n {2}Host {6}HostName=/);
    expect(result.stdout).toMatch(
      /Row ingested -> alert in its incident: median [\d.]+ min, p95 [\d.]+ min, max [\d.]+ min\./,
    );
    expect(result.stdout).toMatch(
      /made 0 new alert\(s\); 0 duplicate\(s\), 0 row\(s\) without an alert; one Sentinel incident per delivered incident\./,
    );
    // Nothing keeps running: the sandbox's Azurite no longer accepts connections.
    const port = Number(
      /Azurite Table service\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(result.stdout)?.[1],
    );
    expect(port).toBeGreaterThan(0);
    await expect(connects(port)).resolves.toBe(false);
  }, 120_000);
});

describe("npm run sandbox (serve mode) and npm start -- --help", () => {
  it("--help prints the usage and starts nothing", async () => {
    const result = await runNode("dist/sandbox/start.js", ["--help"], cleanEnv({}));
    expectExit(result, 0);
    expect(result.stdout).toMatch(/^Usage: npm start/);
    expect(result.stdout).toMatch(/npm run sandbox/);
    expect(result.stdout).not.toMatch(/Starting local stand-ins/);
  });

  it("keeps the stand-ins up, prints the settings to export, serves detect until Ctrl-C", async () => {
    const child = spawn(process.execPath, [path.join(ROOT, "dist/sandbox/start.js"), "--serve"], {
      env: cleanEnv({}),
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const finished = outputOf(child);
    let printed = "";
    child.stdout.on("data", (d: Buffer) => (printed += d.toString()));
    while (!/^Then e\.g\.:/m.test(printed)) await once(child.stdout, "data");
    const exported = Object.fromEntries(
      [...printed.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(exported).sort()).toEqual([
      "EXCLUSIONS_WATCHLIST",
      "LOG_ANALYTICS_ENDPOINT",
      "LOG_ANALYTICS_WORKSPACE_ID",
      "NODE_EXTRA_CA_CERTS",
      "PLAYBOOK_URL",
      "STATE_TABLE_CONNECTION_STRING",
    ]);
    try {
      // The user's own settings (grouping, dry run, JSON) against the served stand-ins.
      const dry = await runNode(
        DETECT,
        ["--dry-run", "--json"],
        cleanEnv({ ...exported, INCIDENT_GROUPING: "run" }),
      );
      expectExit(dry, EXIT.ok);
      // Every detection, nbtscan first; one incident per run each (INCIDENT_GROUPING=run).
      const { runs: dryRuns } = JSON.parse(dry.stdout) as {
        runs: { summary: { rows: number; incidents: number } }[];
      };
      expect(dryRuns).toHaveLength(3);
      for (const { summary } of dryRuns) {
        expect(summary.rows).toBeGreaterThan(0);
        expect(summary.incidents).toBe(1);
      }
      // An analyst adds two rows to the served watchlist (its CSV file): one good, one malformed.
      const watchlistFile = /is served from (\S+\.csv):/.exec(printed)?.[1] ?? "";
      const expires = new Date(Date.now() + 30 * 24 * 3600_000).toISOString().slice(0, 10);
      appendFileSync(
        watchlistFile,
        `sales-laptop-lab,${expires},lab scans,secops@contoso.example,laptop-sales-07.contoso.local,,,` +
          `"{ column: DeviceName, contains: laptop-sales-07 }"\r\n` +
          `broken-row,someday,,,,,,"{ column: FileName, contains: nbtscan }"\r\n`,
      );
      while (!/reloaded: 3 row\(s\)/.test(printed)) await once(child.stdout, "data");
      const real = await runNode(DETECT, ["--json"], cleanEnv(exported));
      expectExit(real, EXIT.ok);
      // The served watchlist's exclusions apply to the user's own runs, the new row's too.
      const {
        runs: [{ summary: after }],
      } = JSON.parse(real.stdout) as {
        runs: {
          summary: { pending: number; failed: number; suppressedBy: Record<string, number> };
        }[];
      };
      expect(after).toMatchObject({ pending: 0, failed: 0 });
      expect(after.suppressedBy["sccm-patch-scan-srv-app-02"]).toBe(1);
      expect(after.suppressedBy["sales-laptop-lab"]).toBeGreaterThan(0);
      // The malformed row: one warning naming the watchlist, the row and the field, though each of
      // the three detections reads the watchlist at its own start (so expiries apply then).
      const warning = expect.stringMatching(
        /exclusions watchlist 'nbtscan-exclusions' \(EXCLUSIONS_WATCHLIST\), row 'broken-row': expires 'someday' is not a date.*; row skipped, the others apply$/,
      ) as unknown;
      expect(real.stderr.split("\n").filter((l) => l.includes("broken-row"))).toEqual([warning]);
    } finally {
      child.kill("SIGINT");
    }
    const ended = await finished;
    expect(ended.status).toBe(0);
    const port = Number(
      /TableEndpoint=http:\/\/127\.0\.0\.1:(\d+)/.exec(exported.STATE_TABLE_CONNECTION_STRING)?.[1],
    );
    await expect(connects(port)).resolves.toBe(false);
  }, 120_000);
});
