// `npm run bench`: how long a run takes with many hits, end to end against Azurite and the Log
// Analytics stand-in, and how fast the pure stages are. Prints figures; asserts nothing.
import { Agent } from "node:https";
import { performance } from "node:perf_hooks";
import { InvocationContext, type Timer } from "@azure/functions";
import { createDetectionHandler } from "../functions/detectionFunction";
import { loadDetectionRule } from "../functions/detection/rule";
import { enrichHit } from "../functions/enrich/enrich";
import { buildIncident } from "../functions/incidents/buildIncident";
import { groupHits } from "../functions/incidents/group";
import { validateIncidentPayload } from "../functions/incidents/payload";
import type { DetectionEvent } from "../functions/model";
import { RUN_COMPLETED } from "../functions/run/runLog";
import { annotateBenign, loadBenignScenarios } from "../functions/triage/scenarios";
import { DEFAULT_SEVERITY_POLICY } from "../functions/triage/severity";
import { startAzuriteTable } from "../sandbox/azurite";
import { startLogAnalyticsStandin } from "../sandbox/logAnalyticsStandin";
import { startPlaybookReceiver } from "../sandbox/playbookReceiver";
import { loadSampleEvents } from "../sandbox/sampleData";
import { createLoopbackCertificate } from "../sandbox/tls";

const WORKSPACE_ID = "00000000-0000-4000-8000-00000000be7c";
const NOW = new Date();

/** `count` distinct events cycled from the sample data, spread over devices and the last day. */
function syntheticEvents(count: number): DetectionEvent[] {
  const samples = loadSampleEvents(NOW);
  return Array.from({ length: count }, (_, i) => {
    const sample = samples[i % samples.length];
    const time = new Date(NOW.getTime() - 10 * 60_000 - i * 1000).toISOString();
    return {
      ...sample,
      DeviceName: `bench-${i % 200}.contoso.local`,
      DeviceId: (i % 200).toString(16).padStart(40, "0"),
      ReportId: String(1_000_000 + i),
      TimeGenerated: time,
      Timestamp: time,
      IngestionTime: time,
    };
  });
}

function benchPureStages(count: number): void {
  const rule = loadDetectionRule();
  const scenarios = loadBenignScenarios();
  const events = syntheticEvents(count);
  const started = performance.now();
  const hits = events.map((e) => enrichHit(e, rule, (event) => annotateBenign(event, scenarios)));
  const incidents = groupHits(hits, "device").map((group) =>
    validateIncidentPayload(
      buildIncident(group, {
        rule,
        workspaceId: WORKSPACE_ID,
        grouping: "device",
        severityPolicy: DEFAULT_SEVERITY_POLICY,
        scenarios,
      }),
    ),
  );
  const ms = performance.now() - started;
  console.log(
    `pure stages: ${count} events -> ${incidents.length} incidents in ${ms.toFixed(0)} ms ` +
      `(${Math.round((count / ms) * 1000)} events/s; enrich, triage, group, render, validate)`,
  );
}

async function benchEndToEnd(count: number): Promise<void> {
  const tls = await createLoopbackCertificate();
  const agent = new Agent({ ca: tls.cert });
  const azurite = await startAzuriteTable();
  const la = await startLogAnalyticsStandin({
    workspaceId: WORKSPACE_ID,
    tls,
    events: syntheticEvents(count),
    maxRowsPerResponse: Math.ceil(count / 3),
  });
  const playbook = await startPlaybookReceiver({ tls });
  try {
    const handler = createDetectionHandler(
      {
        LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE_ID,
        LOG_ANALYTICS_ENDPOINT: la.url,
        STATE_TABLE_CONNECTION_STRING: azurite.connectionString,
        PLAYBOOK_URL: playbook.url,
      },
      { agent },
    );
    const timer: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: "", next: "", lastUpdated: "" },
    };
    for (const label of ["first run", "second run"]) {
      let summary = "";
      const context = new InvocationContext({
        logHandler: (_level, ...args) => {
          const line = args.map(String).join(" ");
          if (line.startsWith(RUN_COMPLETED)) summary = line.slice(RUN_COMPLETED.length).trim();
        },
      });
      const started = performance.now();
      await handler(timer, context);
      const ms = performance.now() - started;
      const s = JSON.parse(summary) as Record<string, number>;
      console.log(
        `end to end, ${label}: ${count} events in the window, ${s.rows} rows, ${s.requests} ` +
          `query requests (${s.splits} splits), ${s.new} new, ${s.duplicates} duplicates, ` +
          `${s.incidents} incidents, ${s.delivered} delivered in ${ms.toFixed(0)} ms`,
      );
    }
  } finally {
    agent.destroy();
    await Promise.all([la.close(), playbook.close()]);
    await azurite.stop();
  }
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 5000);
  console.log(`node ${process.version}`);
  benchPureStages(count);
  await benchEndToEnd(count);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
