import { randomUUID } from "node:crypto";
import type { Agent } from "node:https";
import type { TokenCredential } from "@azure/core-auth";
import { azureCredential, LocalStandinCredential, type Host } from "../azure/credentials";
import { isLoopbackUrl, type DetectionConfig } from "../config/config";
import { loadDetectionRule, type DetectionRule } from "../detection/rule";
import { PlaybookClient } from "../delivery/playbookClient";
import { createQueryClient, QueryTimeLeft, type DetectionQuery } from "../query/detectionQuery";
import { StateStore } from "../state/stateStore";
import { createTableClient } from "../state/tableClient";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { loadBenignScenarios, type BenignScenario } from "../triage/scenarios";
import { loadRunExclusions } from "../triage/watchlist";
import type { RunDependencies } from "./runDetection";
import type { RunLog } from "./runLog";
import type { ServiceEndpoint } from "./failureLine";

/** How the process was started, and the seams tests use instead of Azure. */
export interface RuntimeOptions {
  host: Host;
  /** Query and build incidents only: no state written, nothing posted. */
  dryRun?: boolean;
  /** Replaces every Azure credential (tests inject one; nothing may probe IMDS). */
  credential?: TokenCredential;
  /** TLS agent for local stand-ins whose certificate the process does not trust by itself. */
  agent?: Agent;
  now?: () => Date;
  /** Extra pipeline policies of the state table's client (tests count its requests). */
  tablePolicies?: PipelinePolicy[];
}

/**
 * What lives as long as the process: validated config, the rule, and the SDK clients, built once
 * and reused by every run (clients keep their connections and tokens).
 */
export class DetectionRuntime {
  readonly rule: DetectionRule = loadDetectionRule();
  readonly scenarios: BenignScenario[] = loadBenignScenarios();
  readonly state: StateStore;
  private readonly query: DetectionQuery;
  private readonly playbook: PlaybookClient | undefined;
  private readonly now: () => Date;
  /** Where each service is and which settings point there, for failure lines. */
  readonly services: ServiceEndpoint[];

  constructor(
    readonly config: DetectionConfig,
    options: RuntimeOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    // An Azure credential is only created where one is needed, so local runs never probe IMDS.
    let azure: TokenCredential | undefined;
    const azureSignIn = (): TokenCredential =>
      options.credential ??
      (azure ??= azureCredential(options.host, config.managedIdentityClientId));

    const queryCredential = isLoopbackUrl(config.logAnalyticsEndpoint)
      ? (options.credential ?? new LocalStandinCredential())
      : azureSignIn();
    const timeLeft = new QueryTimeLeft();
    this.query = {
      client: createQueryClient(queryCredential, {
        endpoint: config.logAnalyticsEndpoint,
        timeoutMs: config.queryTimeoutMs,
        maxRetryAfterMs: config.maxRetryAfterMs,
        agent: options.agent,
        timeLeft,
      }),
      workspaceId: config.workspaceId,
      kql: this.rule.query,
      timeoutMs: config.queryTimeoutMs,
      timeLeft,
    };
    const table = createTableClient(config.stateTable, azureSignIn, options.tablePolicies);
    this.state = new StateStore(table, this.rule.id);
    this.services = [
      {
        service: "Log Analytics",
        url: config.logAnalyticsEndpoint,
        settings: "LOG_ANALYTICS_ENDPOINT and LOG_ANALYTICS_WORKSPACE_ID",
      },
      {
        service: "Table Storage",
        // The table client's url is its account's (the table's name is not part of it).
        url: new URL(table.url),
        settings:
          config.stateTable.kind === "endpoint"
            ? "STATE_TABLE_ENDPOINT and STATE_TABLE_NAME"
            : "STATE_TABLE_CONNECTION_STRING and STATE_TABLE_NAME",
      },
      ...(config.playbookUrl
        ? [
            {
              service: "the playbook",
              url: new URL(config.playbookUrl.pathname, config.playbookUrl),
              settings: "PLAYBOOK_URL",
            },
          ]
        : []),
    ];
    if (!options.dryRun && !config.playbookUrl) {
      // loadConfig requires it for a real run; never degrade silently into a dry run.
      throw new Error("PLAYBOOK_URL is required unless the run is a dry run");
    }
    this.playbook =
      options.dryRun || !config.playbookUrl
        ? undefined
        : new PlaybookClient(
            config.playbookUrl,
            {
              // The local receiver accepts the stand-in identity's token; Azure's trigger only the
              // function's managed identity's (its authorization policy).
              credential: isLoopbackUrl(config.playbookUrl)
                ? (options.credential ?? new LocalStandinCredential())
                : azureSignIn(),
              audience: config.playbookTokenAudience,
            },
            {
              timeoutMs: config.playbookTimeoutMs,
              maxRetries: config.playbookMaxRetries,
              maxRetryAfterMs: config.maxRetryAfterMs,
              agent: options.agent,
            },
          );
  }

  /**
   * The dependencies of one run; exclusions are re-read (the file, and the watchlist through the
   * detection's query client) so edits and expiries apply from the run's time, which starts here.
   */
  async dependenciesFor(log: RunLog): Promise<RunDependencies> {
    const startedAt = this.now();
    const exclusions = await loadRunExclusions(this.config.exclusions, this.query, startedAt, log);
    return {
      startedAt,
      config: this.config,
      rule: this.rule,
      query: this.query,
      state: this.state,
      playbook: this.playbook,
      scenarios: this.scenarios,
      exclusions,
      now: this.now,
      log,
      runId: randomUUID(),
    };
  }
}
