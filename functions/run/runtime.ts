import { randomUUID } from "node:crypto";
import type { Agent } from "node:https";
import type { TokenCredential } from "@azure/core-auth";
import { azureCredential, LocalStandinCredential, type Host } from "../azure/credentials";
import { isLoopbackUrl, type DetectionConfig } from "../config/config";
import { existsSync } from "node:fs";
import { detectionRuleOf, rowSpecOf, type DetectionRule } from "../detection/rule";
import { NBTSCAN_RULE_ID, RULES_DIR, sideFileOf } from "../detections/folder";
import { readCompiledDetections, type CompiledDetections } from "../loader/compiled";
import { PlaybookClient } from "../delivery/playbookClient";
import { createQueryClient, QueryTimeLeft, type DetectionQuery } from "../query/detectionQuery";
import { detectionKey, type DetectionKey } from "../state/detectionKey";
import { StateStore } from "../state/stateStore";
import { createTableClient } from "../state/tableClient";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { loadBenignScenarios, type BenignScenario } from "../triage/scenarios";
import { loadRunExclusions } from "../triage/watchlist";
import { exclusionsForRule } from "../triage/exclusions";
import type { RunDependencies } from "./runDetection";
import { errorLine } from "./errorLine";
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
  /**
   * The compiled rules (default: detections.compiled.json beside the rule files, written by the
   * build; functions/loader/compiled.ts). Tests that run from the sources compile in process.
   */
  compiled?: CompiledDetections;
  /** Only these rule ids (default: every rule that loaded), in the compiled order. */
  only?: readonly string[];
}

/** A rule the runtime cannot run, by name, and why in one line: reported, never fatal to others. */
export interface UnavailableDetection {
  id?: string;
  name: string;
  reason: string;
  /** failed: the rule, or a side file of it, did not load (an error, every run). */
  status: "failed";
}

/** What one detection keeps for the process's life: its rule, triage data, query and state. */
interface DetectionEntry {
  rule: DetectionRule;
  scenarios: BenignScenario[];
  query: DetectionQuery;
  state: StateStore;
}

/** A rule id the runtime does not hold: one line naming it and the ids it does. */
export class UnknownDetectionError extends Error {
  constructor(id: string, known: readonly string[]) {
    super(`no detection with id ${id} (loaded: ${known.join(", ") || "none"})`);
    this.name = "UnknownDetectionError";
  }
}

/** Benign scenarios of a rule: its `<rule>.benign.yaml` side file, when it has one. */
function scenariosOf(rule: DetectionRule): BenignScenario[] {
  const file = sideFileOf(rule.loaded.file, "benign");
  return existsSync(file) ? loadBenignScenarios(file) : [];
}

/**
 * What lives as long as the process: validated config, every loaded detection (nbtscan first),
 * and the SDK clients, built once and reused by every run (clients keep their connections and
 * tokens). The rules come from the compiled file only: no YAML rule parsing, no Kusto.Language.
 */
export class DetectionRuntime {
  /** The ids of the detections this runtime runs, in order: nbtscan first. */
  readonly detections: string[] = [];
  /** Rules that did not load or cannot run here, each by name with its one-line reason. */
  readonly unavailable: UnavailableDetection[] = [];
  private readonly entries = new Map<string, DetectionEntry>();
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
    const client = createQueryClient(queryCredential, {
      endpoint: config.logAnalyticsEndpoint,
      timeoutMs: config.queryTimeoutMs,
      maxRetryAfterMs: config.maxRetryAfterMs,
      agent: options.agent,
      timeLeft,
    });
    const table = createTableClient(config.stateTable, azureSignIn, options.tablePolicies);
    const compiled = options.compiled ?? readCompiledDetections(RULES_DIR);
    for (const loaded of compiled.rules) {
      if (options.only && !(loaded.id !== undefined && options.only.includes(loaded.id))) continue;
      if (loaded.ruleClass === "refused") {
        const name = loaded.name ?? loaded.file;
        this.unavailable.push({ id: loaded.id, name, reason: loaded.reason, status: "failed" });
        continue;
      }
      let rule: DetectionRule;
      let scenarios: BenignScenario[];
      let key: DetectionKey;
      try {
        rule = detectionRuleOf(loaded);
        scenarios = scenariosOf(rule);
        // A rule id no state key can hold is this rule's failure, not every rule's.
        key = detectionKey(rule.id, config.workspaceId);
      } catch (error) {
        const reason = errorLine(error);
        this.unavailable.push({ id: loaded.id, name: loaded.name, reason, status: "failed" });
        continue;
      }
      this.detections.push(rule.id);
      this.entries.set(rule.id, {
        rule,
        scenarios,
        query: {
          client,
          workspaceId: config.workspaceId,
          kql: rule.query,
          rows: rowSpecOf(rule),
          timeoutMs: config.queryTimeoutMs,
          timeLeft,
        },
        // Each detection's state is its own, keyed by its rule id and workspace id.
        state: new StateStore(table, key),
      });
    }
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

  /** The first detection (nbtscan, the shipped default): its rule. */
  get rule(): DetectionRule {
    return this.entry(this.detections[0]).rule;
  }

  /** The first detection's state (nbtscan's). */
  get state(): StateStore {
    return this.entry(this.detections[0]).state;
  }

  /** One detection's rule, by id. */
  ruleOf(ruleId: string): DetectionRule {
    return this.entry(ruleId).rule;
  }

  private entry(ruleId: string | undefined): DetectionEntry {
    const entry = ruleId === undefined ? undefined : this.entries.get(ruleId);
    if (!entry) throw new UnknownDetectionError(String(ruleId), this.detections);
    return entry;
  }

  /**
   * The dependencies of one run of one detection (default: the first, nbtscan); exclusions are
   * re-read (the file, and the watchlist through the detection's query client) so edits and
   * expiries apply from the run's time, which starts here.
   */
  async dependenciesFor(
    log: RunLog,
    ruleId: string | undefined = this.detections[0],
  ): Promise<RunDependencies> {
    const entry = this.entry(ruleId);
    const startedAt = this.now();
    const all = await loadRunExclusions(this.config.exclusions, entry.query, startedAt, log);
    // Each detection applies the exclusions naming it; one without `rules` is nbtscan's.
    const exclusions = exclusionsForRule(all, entry.rule.id, NBTSCAN_RULE_ID);
    return {
      startedAt,
      config: this.config,
      rule: entry.rule,
      query: entry.query,
      state: entry.state,
      playbook: this.playbook,
      scenarios: entry.scenarios,
      exclusions,
      now: this.now,
      log,
      runId: randomUUID(),
    };
  }
}
