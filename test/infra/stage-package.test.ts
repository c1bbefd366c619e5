// The deployment package as azd ships it: the prepackage hook stages the esbuild bundle, and a
// stand-in for the Functions host's Node worker (sandbox/functionsHost.js) loads that package in
// its own process, registers its timer function and runs it once against Azurite and the local
// stand-ins. What is tested is the artifact, not the sources: a data file missing beside the
// bundle, a module the bundle cannot resolve or a dependency left out would fail here: the stage
// is a scratch folder outside the project, with no node_modules anywhere above it to fall back on.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SETTING_NAMES } from "../../functions/config/settings";
import { validateIncidentPayload } from "../../functions/incidents/payload";
import { FUNCTION_NAME, RUN_COMPLETED } from "../../functions/run/runLog";
import { TICK_FUNCTION_NAME, WORKER_FUNCTION_NAME } from "../../functions/fanout/functions";
import { DETECTION_QUEUE_NAME, QUEUE_CONNECTION } from "../../functions/fanout/queues";
import { TICK_ENQUEUED } from "../../functions/fanout/tick";
import {
  startAzuriteQueue,
  startAzuriteTable,
  type AzuriteQueue,
  type AzuriteTable,
} from "../../sandbox/azurite";
import {
  startLogAnalyticsStandin,
  type LogAnalyticsStandin,
} from "../../sandbox/logAnalyticsStandin";
import { startPlaybookReceiver, type PlaybookReceiver } from "../../sandbox/playbookReceiver";
import { loadSampleEvents } from "../../sandbox/sampleData";
import { createLoopbackCertificate } from "../../sandbox/tls";

const ROOT = path.resolve(__dirname, "../..");
const WORKSPACE_ID = "00000000-0000-4000-8000-0000000000a9";
const MAX_PACKAGE_BYTES = 5 * 1024 * 1024;

let work: string;
let stage: string;
let caFile: string;
let azurite: AzuriteTable;
let azuriteQueue: AzuriteQueue;
let la: LogAnalyticsStandin;
let playbook: PlaybookReceiver;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "stage-package-"));
  stage = path.join(work, "package");
  const hook = spawnSync(process.execPath, ["infra/hooks/stage-package.js", stage], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (hook.status !== 0) throw new Error(`stage-package failed:\n${hook.stdout}${hook.stderr}`);
  const tls = await createLoopbackCertificate();
  caFile = path.join(work, "ca.pem");
  writeFileSync(caFile, tls.cert);
  [azurite, azuriteQueue, la, playbook] = await Promise.all([
    startAzuriteTable(),
    startAzuriteQueue(),
    startLogAnalyticsStandin({
      workspaceId: WORKSPACE_ID,
      tls,
      events: loadSampleEvents(new Date()),
    }),
    startPlaybookReceiver({ tls }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([la?.close(), playbook?.close()]);
  await Promise.all([azurite?.stop(), azuriteQueue?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

interface HostOutput {
  registered: { name: string; trigger: string; schedule?: string }[];
  invocations?: { name: string; ok: boolean; error?: string; logs: { message: string }[] }[];
}

/** Loads the staged package in the host stand-in, in a child process with only these settings. */
function host(mode: "load" | "run", settings: Record<string, string>): Promise<HostOutput> {
  const env = { ...process.env };
  for (const name of [...SETTING_NAMES, QUEUE_CONNECTION]) delete env[name];
  // Asynchronous, so this process keeps serving the stand-ins the child talks to.
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["sandbox/functionsHost.js", stage, mode], {
      cwd: ROOT,
      env: { ...env, ...settings },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (status) => {
      if (status === 0) resolve(JSON.parse(stdout) as HostOutput);
      else reject(new Error(`host exited ${String(status)}:\n${stdout}\n${stderr}`));
    });
  });
}

describe("infra/hooks/stage-package.js", () => {
  it("stages the bundle, its data files and the host's files: no node_modules, nothing to install", () => {
    expect(readdirSync(stage).sort()).toEqual(
      [
        ".funcignore",
        "adfind-domain-recon.yaml",
        "exclusions-watchlist.kql",
        "detections.compiled.json",
        "network-scanner-smb-sweep.yaml",
        "nbtscan.benign.yaml",
        "host.json",
        "index.js",
        "index.js.LEGAL.txt",
        "nbtscan.meta.yaml",
        "nbtscan.yaml",
        "package.json",
      ].sort(),
    );
    const manifest = JSON.parse(readFileSync(path.join(stage, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(manifest.main).toBe("index.js");
    expect(manifest).not.toHaveProperty("dependencies");
    expect(manifest).not.toHaveProperty("devDependencies");
    const bytes = readdirSync(stage).reduce((n, f) => n + statSync(path.join(stage, f)).size, 0);
    expect(bytes).toBeLessThan(MAX_PACKAGE_BYTES);
  });

  it("compiles the rules beside the bundle, which carries no Kusto.Language", () => {
    const compiled = JSON.parse(
      readFileSync(path.join(stage, "detections.compiled.json"), "utf8"),
    ) as { rules: { file: string; ruleClass: string; query?: string }[] };
    expect(compiled.rules.map((r) => [r.file, r.ruleClass])).toEqual([
      ["nbtscan.yaml", "runs as is"],
      ["adfind-domain-recon.yaml", "adapted"],
      ["network-scanner-smb-sweep.yaml", "runs as is"],
    ]);
    const bundle = readFileSync(path.join(stage, "index.js"), "utf8");
    expect(bundle).not.toContain("language-service-next");
    expect(bundle).not.toContain("Kusto.Language.Bridge");
  });
});

describe("the staged package in a Functions host stand-in", () => {
  it("registers the timer trigger on the schedule app setting", async () => {
    const output = await host("load", {});
    expect(output.registered).toEqual([
      { name: FUNCTION_NAME, trigger: "timerTrigger", schedule: "%DETECTION_SCHEDULE%" },
    ]);
  });

  it("runs a detection end to end: KQL and YAML read beside the bundle, incidents delivered", async () => {
    const output = await host("run", {
      LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE_ID,
      LOG_ANALYTICS_ENDPOINT: la.url,
      STATE_TABLE_CONNECTION_STRING: azurite.connectionString,
      PLAYBOOK_URL: playbook.url,
      // The watchlist's KQL is read beside the bundle too (an unknown alias reads as no rows).
      EXCLUSIONS_WATCHLIST: "nbtscan-exclusions",
      NODE_EXTRA_CA_CERTS: caFile,
    });
    const [invocation] = output.invocations ?? [];
    expect(invocation).toMatchObject({ name: FUNCTION_NAME, ok: true });
    const line = invocation.logs.find((l) => l.message.startsWith(RUN_COMPLETED));
    const summary = JSON.parse(line?.message.slice(RUN_COMPLETED.length) ?? "{}") as {
      incidents: number;
      delivered: number;
    };
    expect(summary.incidents).toBeGreaterThan(0);
    expect(summary.delivered).toBe(summary.incidents);
    const accepted = playbook.received.filter((post) => post.status === 200);
    expect(accepted).toHaveLength(summary.incidents);
    for (const post of accepted) expect(() => validateIncidentPayload(post.body)).not.toThrow();
  });

  it("fans out with a queue connection: the tick enqueues, the queue worker runs the detection", async () => {
    const settings = {
      LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE_ID,
      LOG_ANALYTICS_ENDPOINT: la.url,
      STATE_TABLE_CONNECTION_STRING: azurite.connectionString,
      STATE_TABLE_NAME: "fanout",
      PLAYBOOK_URL: playbook.url,
      NODE_EXTRA_CA_CERTS: caFile,
      [QUEUE_CONNECTION]: azuriteQueue.connectionString,
    };
    const loaded = await host("load", settings);
    expect(loaded.registered).toEqual([
      { name: TICK_FUNCTION_NAME, trigger: "timerTrigger", schedule: "%DETECTION_SCHEDULE%" },
      { name: WORKER_FUNCTION_NAME, trigger: "queueTrigger" },
    ]);
    const before = playbook.received.length;
    const output = await host("run", settings);
    const [tick, ...runs] = output.invocations ?? [];
    expect(tick).toMatchObject({ name: TICK_FUNCTION_NAME, ok: true });
    // Every shipped detection: one message each, one worker run each.
    expect(
      tick.logs.some((l) =>
        l.message.startsWith(`${TICK_ENQUEUED} 3 detection(s) on ${DETECTION_QUEUE_NAME}`),
      ),
    ).toBe(true);
    expect(runs).toHaveLength(3);
    const summaries = runs.map((run) => {
      expect(run).toMatchObject({ name: WORKER_FUNCTION_NAME, ok: true });
      const line = run.logs.find((l) => l.message.startsWith(RUN_COMPLETED));
      return JSON.parse(line?.message.slice(RUN_COMPLETED.length) ?? "{}") as {
        detection: string;
        incidents: number;
        delivered: number;
      };
    });
    // nbtscan's sample hits make incidents; the other rules find none among them.
    const nbtscan = summaries.find((x) => x.detection.startsWith("nbtscan"));
    expect(nbtscan?.incidents).toBeGreaterThan(0);
    for (const summary of summaries) expect(summary.delivered).toBe(summary.incidents);
    const incidents = summaries.reduce((n, x) => n + x.incidents, 0);
    expect(playbook.received.length - before).toBe(incidents);
  });
});
