// `npm start`: the whole detection on this machine with no Azure account and no configuration.
// It starts Azurite (Table service, in memory), a Log Analytics stand-in serving the shipped
// sample events over HTTPS and a playbook receiver; runs the real `detect` command line twice
// (the second run must add nothing new); prints the incidents the playbook received and what
// Sentinel would make of their alert rows (sandbox/sentinel.ts: the local Sentinel on its clock,
// with the analytics rule's own schedule, entity mappings, custom details and grouping); and
// stops everything it started. It is for trying the product, never for use against Azure.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { validateIncidentPayload, type IncidentPayload } from "../functions/incidents/payload";
import { startAzuriteQueue, startAzuriteTable, type AzuriteTable } from "./azurite";
import { runFanOut } from "./fanoutDemo";
import { startLogAnalyticsStandin, type LogAnalyticsStandin } from "./logAnalyticsStandin";
import { startPlaybookReceiver, type PlaybookReceiver } from "./playbookReceiver";
import {
  deliveryReport,
  loadSentinelRule,
  SentinelSimulation,
  type SimulatedIncident,
} from "./sentinel";
import { loadRuleSampleEvents, loadSampleEvents } from "./sampleData";
import { DataFileError } from "../functions/dataFile";
import { SchemaValidationError } from "../functions/validation";
import { createLoopbackCertificate } from "./tls";
import { markdownAsText } from "./readable";
import { exportLines, passThrough, SANDBOX_USAGE } from "./serve";
import type { Watchlist } from "./kql/watchlist";
import { readWatchlistCsv, watchlistCsv } from "./watchlistFile";
import { EXCLUSIONS_WATCHLIST } from "../functions/triage/watchlist";

const SANDBOX_WORKSPACE_ID = "00000000-0000-4000-8000-00000000cafe";
const DETECT_CLI = path.join(__dirname, "..", "functions", "cli", "detect.js");
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Things to stop, in reverse order of starting. */
const running: { stop(): Promise<void> }[] = [];

function heading(text: string): void {
  console.log(`\n=== ${text} ${"=".repeat(Math.max(0, 70 - text.length))}`);
}

/** The alias of the sandbox's exclusions watchlist (EXCLUSIONS_WATCHLIST), as the Bicep's default. */
const SANDBOX_WATCHLIST = "nbtscan-exclusions";

/**
 * The sandbox's exclusions watchlist, with one verified-benign exclusion as an analyst would add it
 * in Sentinel (one cell per column of functions/triage/exclusions-watchlist.json), so the sandbox
 * also shows suppression and its audit trail.
 */
function sandboxWatchlist(now: Date): Watchlist {
  const cells: Record<string, string> = {
    Name: "sccm-patch-scan-srv-app-02",
    Expires: new Date(now.getTime() + 30 * DAY_MS).toISOString().slice(0, 10),
    Reason: "SCCM client health scan, verified with the endpoint team (sandbox example)",
    Owner: "secops@contoso.example",
    Devices: "srv-app-02.contoso.local",
    Accounts: "",
    Condition: "{ column: InitiatingProcessParentFileName, equals: CcmExec.exe }",
  };
  const item = Object.fromEntries(EXCLUSIONS_WATCHLIST.columns.map((c) => [c, cells[c] ?? ""]));
  return { searchKey: EXCLUSIONS_WATCHLIST.searchKey, items: [item], updated: now };
}

/** The CLI's environment: this process's (the user's own detection settings and exclusions
 * too, which apply with the watchlist's), plus where the stand-ins are. */
function sandboxEnv(
  la: LogAnalyticsStandin,
  table: AzuriteTable,
  playbook: PlaybookReceiver,
  caFile: string,
): { env: NodeJS.ProcessEnv; settings: Record<string, string> } {
  const settings = {
    LOG_ANALYTICS_WORKSPACE_ID: SANDBOX_WORKSPACE_ID,
    LOG_ANALYTICS_ENDPOINT: la.url,
    STATE_TABLE_CONNECTION_STRING: table.connectionString,
    PLAYBOOK_URL: playbook.url,
    // The stand-in serves this watchlist to _GetWatchlist, as the workspace would.
    EXCLUSIONS_WATCHLIST: SANDBOX_WATCHLIST,
    // The stand-ins' certificate is self-signed; Node trusts it through this variable.
    NODE_EXTRA_CA_CERTS: caFile,
  };
  return { env: { ...passThrough(process.env), ...settings }, settings };
}

function runDetect(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DETECT_CLI], { env, stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

/** A detection's name, short enough for a table cell. */
function shortName(name: string): string {
  return name.length > 32 ? `${name.slice(0, 31)}…` : name;
}

function printIncidents(incidents: IncidentPayload[]): void {
  console.table(
    incidents.map((i) => ({
      detection: shortName(i.detection.name),
      severity: i.severity,
      events: i.events.length,
      host: i.entities.hosts.map((h) => h.hostName).join(", "),
      matched: [...new Set(i.events.map((e) => e.matchedBy))].join(", "),
      incidentId: i.incidentId,
    })),
  );
  const example = incidents.find((i) => i.severity === "High") ?? incidents[0];
  if (example) {
    heading(`Example incident: ${example.title}`);
    // Markdown is for Sentinel; a terminal shows it as text.
    console.log(markdownAsText(example.description));
  }
  // The other detections' incidents by title: each rule's own text, from its YAML.
  const others = incidents.filter((i) => i.detection.id !== incidents[0]?.detection.id);
  for (const incident of others) {
    console.log(`\n${shortName(incident.detection.name)}: ${incident.title}`);
  }
}

function describeEntity(entity: { type: string; identifiers: Record<string, string> }): string {
  const identifiers = Object.entries(entity.identifiers)
    .map(([name, value]) => `${name}=${value.length > 60 ? `${value.slice(0, 59)}…` : value}`)
    .join(", ");
  return `${entity.type.padEnd(9)} ${identifiers}`;
}

/** One Sentinel incident as the simulation made it: its alerts and their entities. */
function printSentinelIncident(incident: SimulatedIncident): void {
  console.log(`Incident:  ${incident.title}`);
  console.log(`Severity:  ${incident.severity}`);
  console.log(
    `Grouped by ${Object.entries(incident.groupedBy)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}`,
  );
  const first = incident.alerts[0];
  console.log(
    `Tactics:   ${first.tactics.join(", ")}   Techniques: ${first.techniques.join(", ")}`,
  );
  console.log(`Alerts (${incident.alerts.length}):`);
  for (const alert of incident.alerts) {
    const details = ["MatchedBy", "SourceTable", "EventTime"]
      .map((key) => `${key}=${alert.customDetails[key]?.[0] ?? ""}`)
      .join(" ");
    console.log(`  - [${alert.severity}] ${details}`);
  }
  console.log(`Entities (${incident.entities.length}):`);
  for (const entity of incident.entities) console.log(`  ${describeEntity(entity)}`);
}

/**
 * What Sentinel would make of the deliveries, on Sentinel's clock: every accepted POST's rows
 * ingested now (as the playbook would, redeliveries included, each queryable after a simulated
 * latency), the analytics rule run on its schedule for two hours, then for a day more, which must
 * add no alert.
 */
function showSentinel(playbook: PlaybookReceiver, now: Date): boolean {
  const sentinel = new SentinelSimulation(loadSentinelRule(), { start: now });
  let rows = 0;
  for (const post of playbook.received) {
    if (post.status !== 200) continue;
    rows += sentinel.ingest((post.body as { alertRows?: unknown }).alertRows, now);
  }
  sentinel.advanceTo(new Date(now.getTime() + 2 * HOUR_MS));
  const alerts = sentinel.alerts.length;
  const runs = sentinel.runs.length;
  const suppressed = sentinel.runs.filter((r) => r.outcome === "suppressed").length;
  // A day more of scheduled runs over the same rows: the rule's query skips rows already alerted.
  sentinel.advanceTo(new Date(now.getTime() + 26 * HOUR_MS));
  const later = sentinel.alerts.length - alerts;
  const report = deliveryReport(sentinel);
  const incidents = sentinel.incidents;
  heading(
    `Sentinel (simulated, on its clock): ${rows} row(s) ingested, ${alerts} alert(s), ${incidents.length} incident(s)`,
  );
  console.log(
    `The rule ran ${runs} time(s) in 2 hours (every 5 minutes; ${suppressed} run(s) skipped by ` +
      `its 20-minute suppression after a run that alerted).`,
  );
  console.table(
    incidents.map((i) => ({
      title: i.title.length > 48 ? `${i.title.slice(0, 47)}…` : i.title,
      severity: i.severity,
      alerts: i.alerts.length,
      entities: i.entities.length,
      host: i.entities
        .filter((e) => e.type === "Host")
        .map((e) => e.identifiers.HostName)
        .join(", "),
      created: i.createdAt.slice(11, 19),
      IncidentKey: Object.values(i.groupedBy).join(", "),
    })),
  );
  const example = incidents.find((i) => i.severity === "High") ?? incidents[0];
  if (example) {
    heading("Example Sentinel incident, with its entities");
    printSentinelIncident(example);
  }
  // One Sentinel incident of each other detection: its own title, ATT&CK and mapped entities.
  const detectionOf = (i: SimulatedIncident): string | undefined =>
    (playbook.incidentsById.get(i.groupedBy.IncidentKey) as IncidentPayload | undefined)?.detection
      .id;
  const shown = new Set([example && detectionOf(example)]);
  for (const incident of incidents) {
    const detection = detectionOf(incident);
    if (shown.has(detection)) continue;
    shown.add(detection);
    heading("Another detection's Sentinel incident");
    printSentinelIncident(incident);
  }
  const { median, p95, max } = report.latencyMinutes;
  console.log(
    `\nRow ingested -> alert in its incident: median ${median} min, p95 ${p95} min, max ${max} min.`,
  );
  const oneIncidentPerKey = incidents.length === playbook.incidentsById.size;
  console.log(
    `A day more of rule runs over the same rows made ${later} new alert(s); ` +
      `${report.duplicateAlerts} duplicate(s), ${report.missedEventKeys} row(s) without an alert; ` +
      `${oneIncidentPerKey ? "one" : "NOT one"} Sentinel incident per delivered incident.`,
  );
  return (
    later === 0 &&
    oneIncidentPerKey &&
    report.duplicateAlerts === 0 &&
    report.missedEventKeys === 0 &&
    alerts === report.eventKeys
  );
}

async function main(): Promise<number> {
  const now = new Date();
  const work = mkdtempSync(path.join(tmpdir(), "nbtscan-sandbox-"));
  running.push({ stop: () => Promise.resolve(rmSync(work, { recursive: true, force: true })) });

  heading("Starting local stand-ins");
  const tls = await createLoopbackCertificate();
  const caFile = path.join(work, "loopback-ca.pem");
  writeFileSync(caFile, tls.cert);
  const table = await startAzuriteTable();
  running.push(table);
  console.log(`Azurite Table service      ${table.endpoint}`);
  // nbtscan's sample events, then the other detections' (AdFind, network scanner).
  const events = [...loadSampleEvents(now), ...loadRuleSampleEvents(now)];
  // The Defender tables alive: their last (unmatched) events arrived a minute and a half ago.
  const lastIngested = new Date(now.getTime() - 90_000);
  const la = await startLogAnalyticsStandin({
    workspaceId: SANDBOX_WORKSPACE_ID,
    tls,
    events,
    tableActivity: {
      DeviceProcessEvents: lastIngested,
      DeviceFileEvents: lastIngested,
      DeviceNetworkEvents: lastIngested,
    },
    watchlists: { [SANDBOX_WATCHLIST]: sandboxWatchlist(now) },
  });
  running.push({ stop: () => la.close() });
  console.log(`Log Analytics stand-in     ${la.url}  (${events.length} sample events)`);
  console.log(
    `Sentinel watchlist         ${SANDBOX_WATCHLIST}  (1 exclusion, EXCLUSIONS_WATCHLIST)`,
  );
  // Like the Logic App trigger, the receiver checks each payload against the contract.
  const playbook = await startPlaybookReceiver({ tls, validate: validateIncidentPayload });
  running.push({ stop: () => playbook.close() });
  console.log(`Playbook receiver          ${playbook.url}`);

  const { env, settings } = sandboxEnv(la, table, playbook, caFile);
  if (serving) return serve(settings, la, work, now);
  heading("Run 1: the first run looks back 7 days");
  const first = await runDetect(env);
  const afterFirst = playbook.received.length;
  heading("Run 2: nothing new has arrived, so nothing new may be sent");
  const second = await runDetect(env);
  const newOnSecond = playbook.received.length - afterFirst;
  heading("Run 3: as deployed: a tick enqueues each detection, a queue worker runs it");
  const queue = await startAzuriteQueue();
  running.push(queue);
  console.log(`Azurite Queue service      ${queue.endpoint}`);
  const fanOut = await runFanOut(env, queue, tls.cert);
  const newOnFanOut = playbook.received.length - afterFirst - newOnSecond;
  console.log(
    `Run 3 (fanned out over the queue): ${fanOut.enqueued.length} message(s), ` +
      `${fanOut.summaries.length} run(s), ${newOnFanOut} new incident(s) delivered.`,
  );

  heading(`The playbook received ${playbook.incidentsById.size} incident(s)`);
  printIncidents([...playbook.incidentsById.values()].map((b) => validateIncidentPayload(b)));
  const sentinelOk = showSentinel(playbook, new Date());

  heading("Result");
  const ok =
    first === 0 &&
    second === 0 &&
    newOnSecond === 0 &&
    afterFirst > 0 &&
    fanOut.ok &&
    fanOut.summaries.length === fanOut.enqueued.length &&
    newOnFanOut === 0 &&
    sentinelOk;
  console.log(
    ok
      ? `OK: run 1 delivered ${afterFirst} incident(s); run 2 delivered nothing new.`
      : `FAILED: run 1 exit ${first}, run 2 exit ${second}, ${newOnSecond} new post(s) on run 2, fan-out ${fanOut.ok ? "ok" : "failed"} with ${newOnFanOut} new post(s), Sentinel simulation ${sentinelOk ? "ok" : "inconsistent"}.`,
  );
  return ok ? 0 : 1;
}

/**
 * The served watchlist as a CSV file a person edits (sandbox/watchlistFile.ts); each save
 * replaces what the stand-in serves, so the next `npm run detect` reads it. A file that cannot be
 * read is one line, and the stand-in keeps serving the last good one.
 */
function watchlistFromFile(la: LogAnalyticsStandin, work: string, now: Date): string {
  const file = path.join(work, `${SANDBOX_WATCHLIST}.csv`);
  writeFileSync(file, watchlistCsv(EXCLUSIONS_WATCHLIST.columns, sandboxWatchlist(now).items));
  const reload = (): void => {
    try {
      const text = readFileSync(file, "utf8");
      const watchlist = readWatchlistCsv(text, file, EXCLUSIONS_WATCHLIST.searchKey);
      la.setWatchlist(SANDBOX_WATCHLIST, watchlist);
      console.log(`Watchlist ${SANDBOX_WATCHLIST} reloaded: ${watchlist.items.length} row(s)`);
    } catch (error) {
      console.error(error instanceof Error ? error.message : String(error));
    }
  };
  // fs.watch on the folder (an editor may save by replacing the file): change events, no polling.
  const watcher = watch(work, (_event, name) => {
    if (name === path.basename(file)) reload();
  });
  running.push({ stop: () => Promise.resolve(watcher.close()) });
  return file;
}

/** `npm run sandbox`: the stand-ins stay up for `npm run detect` until Ctrl-C. */
function serve(
  settings: Record<string, string>,
  la: LogAnalyticsStandin,
  work: string,
  now: Date,
): Promise<number> {
  const watchlistFile = watchlistFromFile(la, work, now);
  heading("Serving until Ctrl-C; in another terminal, export these and run npm run detect");
  for (const line of exportLines(settings)) console.log(line);
  console.log(
    `\nThe Sentinel watchlist ${SANDBOX_WATCHLIST} is served from ${watchlistFile}: ` +
      "add, edit or delete a row (CSV, as Sentinel's upload takes) and the next run reads it.",
  );
  console.log(
    "\nThen e.g.: npm run detect -- --dry-run   |   npm run detect -- --json   |   " +
      "INCIDENT_GROUPING=run npm run detect",
  );
  // Never resolves: Ctrl-C (SIGINT) stops everything and ends the process.
  return new Promise<number>(() => undefined);
}

async function stopAll(): Promise<void> {
  for (const item of running.reverse()) await item.stop();
  running.length = 0;
}

const args = process.argv.slice(2);
const serving = args.includes("--serve");
if (args.includes("--help") || args.includes("-h")) {
  console.log(SANDBOX_USAGE);
  process.exit(0);
}
const unknown = args.filter((arg) => arg !== "--serve");
if (unknown.length > 0) {
  console.error(`Unknown option ${unknown[0]}\n${SANDBOX_USAGE}`);
  process.exit(2);
}

// Ctrl-C ends a serve session normally (exit 0); it interrupts a scripted run (130).
process.once("SIGINT", () => void stopAll().then(() => process.exit(serving ? 0 : 130)));
process.once("SIGTERM", () => void stopAll().then(() => process.exit(serving ? 0 : 143)));
main()
  .then(async (code) => {
    await stopAll();
    process.exitCode = code;
  })
  .catch(async (error: unknown) => {
    // A broken data file is one line naming it (file:line:col: message); anything else, a stack.
    const dataProblem = error instanceof DataFileError || error instanceof SchemaValidationError;
    console.error(dataProblem ? error.message : error);
    await stopAll();
    process.exitCode = 1;
  });
