// `npm run detect [-- --rule ID] [-- --dry-run] [-- --json]`: one detection cycle now, of one rule
// or of every rule in order (nbtscan first), from a terminal, with the same settings the function
// reads. Signs in with DefaultAzureCredential (az login); against a
// loopback LOG_ANALYTICS_ENDPOINT it uses no Azure credential, and trusts NODE_EXTRA_CA_CERTS.
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/config";
import type { IncidentPayload } from "../incidents/payload";
import { ruleLabel, runAllDetections } from "../run/runAll";
import type { RunResult } from "../run/runDetection";
import type { RunLog } from "../run/runLog";
import { DetectionRuntime } from "../run/runtime";
import type { RunSummary } from "../run/summary";
import { errorLine } from "../run/errorLine";
import { failureLine } from "../run/failureLine";

/** Exit codes, for scripts that call the command. */
export const EXIT = { ok: 0, runFailed: 1, badConfiguration: 2, undelivered: 3 } as const;

const USAGE = `Usage: npm run detect -- [--rule ID] [--dry-run] [--json] [--verbose]
  --rule ID  run only the detection with this rule id (default: every detection, nbtscan first)
  --dry-run  query and print the incidents that would be sent; record and post nothing
  --json     print the summary (and, with --dry-run, the incidents) as JSON
  --verbose  when the run fails, print the stack trace after the one-line reason
Settings come from environment variables; see README "Configuration".`;

const consoleLog: RunLog = {
  info: (m) => console.error(m),
  warn: (m) => console.error(`warning: ${m}`),
  error: (m) => console.error(`error: ${m}`),
};

/** The suppressed count with the exclusions that suppressed the hits: "2 (it-inventory: 2)". */
export function suppressedLine(summary: RunSummary): string | number {
  const by = Object.entries(summary.suppressedBy);
  if (by.length === 0) return summary.suppressed;
  return `${summary.suppressed} (${by.map(([name, n]) => `${name}: ${n}`).join(", ")})`;
}

function printHuman(summary: RunSummary, incidents: IncidentPayload[]): void {
  const s = summary.toJSON();
  const what = `${summary.detection.name} (${summary.detection.id})`;
  console.log(
    summary.dryRun
      ? `Dry run of ${what}: nothing recorded, nothing posted.`
      : `Detection run: ${what}`,
  );
  console.table({
    window: `${String(s.windowStart)} .. ${String(s.windowEnd)}`,
    "rows returned": s.rows,
    "rows Log Analytics scanned": s.scannedRows ?? "not reported",
    "catch-up pass": summary.catchUp
      ? `${summary.catchUp.window.start.toISOString()} .. ${summary.catchUp.window.end.toISOString()}`
      : "not due",
    "new hits": s.new,
    duplicates: s.duplicates,
    // Which exclusions suppressed what: the audit trail, named where the count is.
    suppressed: suppressedLine(summary),
    "quarantined (skipped; see the state table)": s.quarantined,
    incidents: s.incidents,
    delivered: s.delivered,
    "pending (retry next run)": s.pending,
    "failed (rejected)": s.failed,
    "earlier incidents delivered": s.retriedDelivered,
    ...Object.fromEntries(
      Object.entries(summary.tablesLastIngested).map(([table, time]) => [
        `${table} last ingested`,
        time ?? "nothing within DATA_SILENCE_WARNING",
      ]),
    ),
    "duration ms": s.durationMs,
  });
  if (incidents.length > 0) {
    console.log(summary.dryRun ? "Incidents that would be sent:" : "Incidents:");
    console.table(
      incidents.map((i) => ({
        incidentId: i.incidentId,
        severity: i.severity,
        events: i.events.length,
        title: i.title,
      })),
    );
  }
}

/** Runs one cycle; returns the process exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        rule: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        verbose: { type: "boolean", short: "v", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${errorLine(error)}\n${USAGE}`);
    return EXIT.badConfiguration;
  }
  if (args.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const dryRun = args["dry-run"];
  let runtime: DetectionRuntime | undefined;
  try {
    const config = loadConfig(env, { requirePlaybook: !dryRun });
    runtime = new DetectionRuntime(config, { host: "cli", dryRun });
    const ruleIds = args.rule === undefined ? runtime.detections : [args.rule];
    if (args.rule !== undefined) runtime.ruleOf(args.rule); // an unknown id: one line, no run
    const outcomes = await runAllDetections(runtime, consoleLog, ruleIds);
    const results: RunResult[] = [];
    let failure: { name: string; error: unknown } | undefined;
    for (const outcome of outcomes) {
      if (outcome.ok) results.push(outcome.result);
      else {
        console.error(
          `Run failed: ${failureLine(outcome.error, runtime.services)} ${ruleLabel(outcome)}`,
        );
        if (args.verbose && outcome.error instanceof Error && outcome.error.stack) {
          console.error(outcome.error.stack);
        }
        failure ??= outcome;
      }
    }
    // Rules that could not be loaded are named, never silently left out of "all".
    const notRun = args.rule === undefined ? runtime.unavailable : [];
    const failedToLoad = notRun.filter((rule) => rule.status === "failed");
    if (args.json) {
      const runs = results.map(({ summary, incidents }) => ({
        summary,
        ...(dryRun ? { incidents } : {}),
      }));
      // One rule: its summary as before; several: one entry per rule, in order.
      const document = runs.length === 1 && !failure ? runs[0] : { runs };
      console.log(
        JSON.stringify(
          { ...document, ...(notRun.length > 0 ? { unavailable: notRun } : {}) },
          null,
          2,
        ),
      );
    } else {
      for (const { summary, incidents } of results) {
        if (summary.skipped) {
          // Another run (the deployed function, another terminal) owns the detection: not an error.
          console.log(`Nothing done: ${summary.skipped} ${ruleLabel(summary.detection)}.`);
        } else printHuman(summary, incidents);
      }
      for (const rule of failedToLoad) console.log(`Not run: '${rule.name}': ${rule.reason}`);
    }
    if (failure || failedToLoad.length > 0) return EXIT.runFailed;
    const undelivered = results.reduce(
      (n, { summary }) =>
        n + summary.pending + summary.failed + summary.retried.pending + summary.retried.failed,
      0,
    );
    return undelivered > 0 ? EXIT.undelivered : EXIT.ok;
  } catch (error) {
    // One line per bad setting, one line for a failed run; a stack trace only on request.
    if (error instanceof ConfigError) {
      for (const problem of error.problems) console.error(`Invalid configuration: ${problem}`);
      return EXIT.badConfiguration;
    }
    console.error(`Run failed: ${failureLine(error, runtime?.services ?? [])}`);
    if (args.verbose && error instanceof Error && error.stack) console.error(error.stack);
    return EXIT.runFailed;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2), process.env).then((code) => {
    process.exitCode = code;
  });
}
