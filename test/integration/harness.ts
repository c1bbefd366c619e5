// Runs the real timer handler against real local components: Azurite's Table service, the Log
// Analytics stand-in (driven by the real LogsQueryClient over HTTPS) and the playbook receiver.
// Only the clock and the TLS trust are injected: against loopback the handler picks its own
// credential, as the command line and npm start do.
import type { TokenCredential } from "@azure/core-auth";
import { randomUUID } from "node:crypto";
import { Agent } from "node:https";
import { InvocationContext, type Timer } from "@azure/functions";
import { TableClient } from "@azure/data-tables";
import { createDetectionHandler } from "../../functions/detectionFunction";
import type { CompiledDetections } from "../../functions/loader/compiled";
import { nbtscanId, shippedDetections } from "../support/compiled";
import { validateIncidentPayload, type IncidentPayload } from "../../functions/incidents/payload";
import { SOURCE_TABLES, type DetectionEvent } from "../../functions/model";
import { FUNCTION_NAME, RUN_COMPLETED } from "../../functions/run/runLog";
import { detectionKey } from "../../functions/state/detectionKey";
import { StateStore } from "../../functions/state/stateStore";
import { loadDetectionRule } from "../../functions/detection/rule";
import { startAzuriteTable, type AzuriteTable } from "../../sandbox/azurite";
import {
  startLogAnalyticsStandin,
  type LogAnalyticsStandin,
} from "../../sandbox/logAnalyticsStandin";
import { startPlaybookReceiver, type PlaybookReceiver } from "../../sandbox/playbookReceiver";
import { createLoopbackCertificate, type LoopbackCertificate } from "../../sandbox/tls";

export const WORKSPACE_ID = "11111111-2222-4333-8444-555555555555";
export const MINUTE = 60_000;

/** What all sandboxes of a test file share: one Azurite process and one certificate. */
export interface SharedInfra {
  azurite: AzuriteTable;
  tls: LoopbackCertificate;
  agent: Agent;
}

/** Starts Azurite and makes the loopback certificate; call in beforeAll. */
async function startSharedInfra(): Promise<SharedInfra> {
  const [azurite, tls] = await Promise.all([startAzuriteTable(), createLoopbackCertificate()]);
  return { azurite, tls, agent: new Agent({ ca: tls.cert }) };
}

/** Sandboxes for one test file, and what each test leaves to close. */
export interface SandboxFactory {
  /** Deploys a sandbox at the file's start time; it is closed after the test. */
  create(options?: SandboxOptions): Promise<Sandbox>;
  /** Closes something else the test started (a stand-in of its own) after the test. */
  closeAfterTest(close: () => Promise<void>): void;
  /** The certificate the sandboxes trust, for a stand-in of the test's own (inside a test). */
  tls(): LoopbackCertificate;
}

/**
 * Registers a test file's hooks: Azurite and the certificate once for the file, everything a test
 * opened closed after it, and Azurite stopped at the end.
 */
export function useSandboxes(start: Date): SandboxFactory {
  let shared: SharedInfra | undefined;
  const toClose: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    shared = await startSharedInfra();
  });
  afterEach(async () => {
    await Promise.all(toClose.splice(0).map((close) => close()));
  });
  afterAll(async () => {
    shared?.agent.destroy();
    await shared?.azurite.stop();
  });
  return {
    async create(options) {
      if (shared === undefined) throw new Error("sandboxes are created inside a test");
      const created = await createSandbox(shared, start, options);
      toClose.push(() => created.close());
      return created;
    },
    closeAfterTest(close) {
      toClose.push(close);
    },
    tls() {
      if (shared === undefined) throw new Error("the certificate exists inside a test");
      return shared.tls;
    },
  };
}

export interface LogLine {
  level: string;
  message: string;
}

/** What one invocation logged, and its run summary. */
export interface Invocation {
  logs: LogLine[];
  summary: Record<string, number | string | boolean | null | Record<string, number>>;
  /** The state-table requests the invocation made ("GET /table()", "POST /$batch", ...). */
  tableRequests: string[];
}

export interface SandboxOptions {
  events?: DetectionEvent[];
  /**
   * Newest ingestion of each table's events the detection does not match. By default both
   * tables ingest up to a minute before each run (a live connector).
   */
  tableActivity?: Record<string, Date>;
  /** Tables missing from the workspace. */
  missingTables?: string[];
  maxRowsPerResponse?: number;
  /** How far each detection query moves the run's clock: a slow Log Analytics, in no real time. */
  queryCostMs?: number;
  /** Settings added to (or, as undefined, removed from) the defaults below. */
  env?: Record<string, string | undefined>;
  /** Another sandbox's state table: two deployments of one detection sharing their state. */
  tableName?: string;
  /** The function's identity (every token it sends); by default the sandbox's own. */
  credential?: TokenCredential;
  /** The detections the function runs, by rule id (default: nbtscan's alone). */
  ruleIds?: string[];
  /** The compiled rules the function reads (default: the shipped ones). */
  compiled?: CompiledDetections;
  /** The workspace the detection reads (another one: another detection); WORKSPACE_ID. */
  workspaceId?: string;
}

/** One isolated detection deployment: its own state table, stand-in and playbook. */
export interface Sandbox {
  la: LogAnalyticsStandin;
  playbook: PlaybookReceiver;
  state: StateStore;
  tableName: string;
  /** The state table itself, for tests that tamper with it as a crash would. */
  table: TableClient;
  now: Date;
  advance(ms: number): void;
  /** Invokes the timer handler once; rejects with the handler's error, logs attached. */
  run(): Promise<Invocation>;
  /** Every payload the playbook accepted, checked against the contract. */
  delivered(): IncidentPayload[];
  close(): Promise<void>;
}

/** The tables a live connector fills: nbtscan's and those of the other shipped detections. */
const LIVE_TABLES = [...SOURCE_TABLES, "DeviceNetworkEvents"];

const TIMER: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: "", next: "", lastUpdated: "" },
};

/** Deploys the detection into the shared infra; the clock starts at `start`. */
export async function createSandbox(
  shared: SharedInfra,
  start: Date,
  options: SandboxOptions = {},
): Promise<Sandbox> {
  let now = start;
  const workspaceId = options.workspaceId ?? WORKSPACE_ID;
  const la = await startLogAnalyticsStandin({
    workspaceId,
    tls: shared.tls,
    events: options.events ?? [],
    maxRowsPerResponse: options.maxRowsPerResponse,
    tableActivity: options.tableActivity,
    missingTables: options.missingTables,
    onDetectionQuery: () => {
      now = new Date(now.getTime() + (options.queryCostMs ?? 0));
    },
  });
  const playbook = await startPlaybookReceiver({ tls: shared.tls });
  const tableName = options.tableName ?? `t${randomUUID().replace(/-/g, "")}`;
  const env: Record<string, string | undefined> = {
    LOG_ANALYTICS_WORKSPACE_ID: workspaceId,
    LOG_ANALYTICS_ENDPOINT: la.url,
    STATE_TABLE_CONNECTION_STRING: shared.azurite.connectionString,
    STATE_TABLE_NAME: tableName,
    PLAYBOOK_URL: playbook.url,
    PLAYBOOK_MAX_RETRIES: "0",
    ...options.env,
  };
  const tableRequests: string[] = [];
  const handler = createDetectionHandler(env, {
    compiled: options.compiled ?? shippedDetections(),
    // nbtscan's runs, as these tests were written for; options.ruleIds runs others too.
    only: options.ruleIds ?? [nbtscanId()],
    agent: shared.agent,
    credential: options.credential,
    now: () => now,
    tablePolicies: [
      {
        name: "countTableRequests",
        sendRequest: (request, next) => {
          tableRequests.push(`${request.method} ${new URL(request.url).pathname}`);
          return next(request);
        },
      },
    ],
  });
  const table = TableClient.fromConnectionString(shared.azurite.connectionString, tableName, {
    allowInsecureConnection: true,
  });
  return {
    la,
    playbook,
    state: new StateStore(table, detectionKey(loadDetectionRule().id, workspaceId)),
    tableName,
    table,
    get now() {
      return now;
    },
    advance(ms) {
      now = new Date(now.getTime() + ms);
    },
    async run() {
      if (options.tableActivity === undefined) {
        for (const table of LIVE_TABLES)
          la.setTableActivity(table, new Date(now.getTime() - MINUTE));
      }
      const logs: LogLine[] = [];
      tableRequests.length = 0;
      const context = new InvocationContext({
        functionName: FUNCTION_NAME,
        logHandler: (level, ...args) => logs.push({ level, message: args.map(String).join(" ") }),
      });
      try {
        await handler(TIMER, context);
      } catch (error) {
        throw Object.assign(error as Error, { logs });
      }
      const line = logs.find((l) => l.message.startsWith(RUN_COMPLETED));
      if (!line) throw new Error(`no run summary logged:\n${JSON.stringify(logs, null, 2)}`);
      return {
        logs,
        summary: JSON.parse(line.message.slice(RUN_COMPLETED.length)) as Invocation["summary"],
        tableRequests: [...tableRequests],
      };
    },
    delivered() {
      return playbook.received
        .filter((post) => post.status === 200)
        .map((post) => validateIncidentPayload(post.body));
    },
    async close() {
      await Promise.all([la.close(), playbook.close()]);
    },
  };
}
