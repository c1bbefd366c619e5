import { statSync } from "node:fs";
import { TableClient } from "@azure/data-tables";
import { Cron } from "croner";
import type { Severity } from "../model";
import { loadExclusions } from "../triage/exclusions";
import { WATCHLIST_ALIAS, type RunExclusionSource } from "../triage/watchlist";
import { ConfigError } from "./configError";
import { isoDurationMs } from "./duration";
import { acceptedValues, SETTINGS, type SettingName, type SettingSpec } from "./settings";

export { ConfigError } from "./configError";

/** How hits are grouped into incidents. */
export type Grouping = "device" | "run" | "event";
export const GROUPINGS: readonly Grouping[] = ["device", "run", "event"];

const SEVERITIES: readonly Severity[] = ["High", "Medium", "Low", "Informational"];

/** Where the state table lives: an endpoint reached with Entra ID, or a connection string. */
export type StateTableTarget =
  | { kind: "endpoint"; endpoint: string; tableName: string }
  | { kind: "connectionString"; connectionString: string; tableName: string };

/** Validated configuration of one detection run. */
export interface DetectionConfig {
  workspaceId: string;
  logAnalyticsEndpoint: URL;
  lookbackMs: number;
  settleMs: number;
  maxIngestionDelayMs: number;
  catchUpIntervalMs: number;
  schedule: string;
  grouping: Grouping;
  stateTable: StateTableTarget;
  /** Undefined only when the caller does not deliver (dry run). */
  playbookUrl: URL | undefined;
  /** The `aud` the playbook's authorization policy requires; the token is asked for it. */
  playbookTokenAudience: string;
  queryTimeoutMs: number;
  playbookTimeoutMs: number;
  playbookMaxRetries: number;
  maxRetryAfterMs: number;
  /** Time one run may take; below the host's functionTimeout. */
  runBudgetMs: number;
  maxHitsPerRun: number;
  deliveryConcurrency: number;
  deliveredRetentionMs: number;
  /** A Defender table with nothing ingested for this long is reported silent. */
  dataSilenceWarningMs: number;
  /** EXCLUSIONS_FILE or EXCLUSIONS, and the EXCLUSIONS_WATCHLIST alias. */
  exclusions: RunExclusionSource;
  severityPolicy: { default: Severity; elevated: Severity; benign: Severity };
  managedIdentityClientId: string | undefined;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
const NCRONTAB_FIELDS = ["second", "minute", "hour", "day", "month", "day-of-week"];
// NCRONTAB fields hold numbers, three-letter month and day names, and * , - /; Quartz-style
// L, W, # and ? (which cron libraries accept) mean nothing to the Functions host.
const NCRONTAB_FIELD = /^(?:[0-9*,/-]|[A-Za-z]{3}(?![A-Za-z]))+$/;
const NCRONTAB_NEUTRAL = ["0", "0", "0", "*", "*", "*"];
// Longest value shown back in a message: a pasted secret or document should not fill the log.
const MAX_ECHO = 80;

/** True for URLs whose host is this machine: the only place plain http is acceptable. */
export function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

type Env = Readonly<Record<string, string | undefined>>;

// Reads settings one by one, collecting every problem so a misconfigured deployment is fixed in
// one pass rather than one restart per mistake.
class SettingsReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  private spec(name: SettingName): SettingSpec {
    const spec: SettingSpec | undefined = SETTINGS.find((s) => s.name === name);
    if (!spec) throw new Error(`unknown setting ${name}`);
    return spec;
  }

  private fail(name: SettingName, detail: string): undefined {
    this.problems.push(`${name} ${detail}; expected ${acceptedValues(this.spec(name))}.`);
    return undefined;
  }

  private shown(value: string): string {
    return value.length > MAX_ECHO ? `'${value.slice(0, MAX_ECHO)}…'` : `'${value}'`;
  }

  raw(name: SettingName): string | undefined {
    const value = this.env[name]?.trim();
    if (value) return value;
    return this.spec(name).default;
  }

  required(name: SettingName): string | undefined {
    const value = this.raw(name);
    return value === undefined ? this.fail(name, "is not set") : value;
  }

  guid(name: SettingName, value = this.required(name)): string | undefined {
    if (value === undefined) return undefined;
    return GUID.test(value) ? value.toLowerCase() : this.fail(name, `is ${this.shown(value)}`);
  }

  /** A duration within the setting's range (every timer stays far below Node's 24.8-day limit). */
  durationMs(name: SettingName): number | undefined {
    const value = this.required(name);
    if (value === undefined) return undefined;
    const ms = isoDurationMs(value);
    if (ms === undefined) return this.fail(name, `is ${this.shown(value)}`);
    const range = this.spec(name).range;
    const min = range ? (isoDurationMs(range.min) ?? 1) : 1;
    const max = range ? (isoDurationMs(range.max) ?? Infinity) : Infinity;
    if (ms < min) return this.fail(name, `is ${this.shown(value)}, too short`);
    if (ms > max) return this.fail(name, `is ${this.shown(value)}, too long`);
    return ms;
  }

  url(name: SettingName, value = this.required(name), httpsOnly = false): URL | undefined {
    if (value === undefined) return undefined;
    // The URL parser would quietly encode or drop what does not belong in a URL.
    if (/\s/.test(value)) return this.fail(name, "contains white space");
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return this.fail(name, "is not a URL");
    }
    if (url.protocol === "https:") return url;
    // Bearer tokens are never sent over plain http, so an authenticated API must be https.
    if (httpsOnly) return this.fail(name, `uses ${url.protocol.replace(":", "")}`);
    if (url.protocol === "http:" && isLoopbackUrl(url)) return url;
    return this.fail(name, `uses ${url.protocol.replace(":", "")} on a non-loopback host`);
  }

  oneOf<T extends string>(name: SettingName, allowed: readonly T[]): T | undefined {
    const value = this.required(name);
    if (value === undefined) return undefined;
    const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
    return match ?? this.fail(name, `is ${this.shown(value)}`);
  }

  /** A whole number within the setting's range. */
  integer(name: SettingName): number | undefined {
    const value = this.required(name);
    if (value === undefined) return undefined;
    const range = this.spec(name).range;
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    const inRange = !range || (n >= Number(range.min) && n <= Number(range.max));
    return Number.isSafeInteger(n) && inRange ? n : this.fail(name, `is ${this.shown(value)}`);
  }

  /** A six-field NCRONTAB expression, each field checked by croner against its own range. */
  schedule(name: SettingName): string | undefined {
    const value = this.required(name);
    if (value === undefined) return undefined;
    const fields = value.split(/\s+/);
    const shown = this.shown(value);
    if (fields.length !== NCRONTAB_FIELDS.length) {
      return this.fail(name, `is ${shown}, ${fields.length} field(s)`);
    }
    // One field at a time, the others neutral, so the message names the field that is wrong.
    const bad = fields.findIndex((field, i) => {
      const probe = NCRONTAB_NEUTRAL.map((neutral, j) => (j === i ? field : neutral));
      return !NCRONTAB_FIELD.test(field) || nextFiring(probe.join(" ")) === "invalid";
    });
    if (bad >= 0) {
      return this.fail(
        name,
        `is ${shown}, its ${NCRONTAB_FIELDS[bad]} field '${fields[bad]}' is invalid`,
      );
    }
    const next = nextFiring(value);
    return next instanceof Date ? value : this.fail(name, `is ${shown}, which never fires`);
  }

  stateTable(): StateTableTarget | undefined {
    const tableName = this.required("STATE_TABLE_NAME");
    if (tableName !== undefined && !TABLE_NAME.test(tableName)) {
      return this.fail("STATE_TABLE_NAME", `is '${tableName}'`);
    }
    const connectionString = this.raw("STATE_TABLE_CONNECTION_STRING");
    const endpoint = this.raw("STATE_TABLE_ENDPOINT");
    if (tableName === undefined) return undefined;
    if (connectionString && endpoint) {
      // Both would be ambiguous: which account holds the state must be said, never guessed.
      this.problems.push(
        "STATE_TABLE_ENDPOINT and STATE_TABLE_CONNECTION_STRING are both set; expected one of " +
          "them: the endpoint in Azure (managed identity), the connection string for Azurite.",
      );
      return undefined;
    }
    if (connectionString) {
      if (!this.connectionStringReadable(connectionString)) return undefined;
      return { kind: "connectionString", connectionString, tableName };
    }
    if (!endpoint) {
      this.problems.push(
        "STATE_TABLE_ENDPOINT or STATE_TABLE_CONNECTION_STRING must be set; expected " +
          "https://<account>.table.core.windows.net (Azure) or an Azurite connection string.",
      );
      return undefined;
    }
    const url = this.url("STATE_TABLE_ENDPOINT", endpoint);
    return url && { kind: "endpoint", endpoint: url.toString().replace(/\/$/, ""), tableName };
  }

  // Its shape is checked here (Name=Value pairs separated by ';', as the Azure Storage
  // connection-string format is documented), then the Table SDK's own parser decides; the value
  // (a secret) is never shown.
  private connectionStringReadable(connectionString: string): boolean {
    const segments = connectionString.split(";").filter((segment) => segment.trim() !== "");
    const bad = segments.findIndex((segment) => !/^[A-Za-z]+=\S/.test(segment.trim()));
    if (bad >= 0) {
      this.fail(
        "STATE_TABLE_CONNECTION_STRING",
        `is not a storage connection string (part ${bad + 1} of ${segments.length} is not Name=Value)`,
      );
      return false;
    }
    try {
      TableClient.fromConnectionString(connectionString, "probe", {
        allowInsecureConnection: true,
      });
      return true;
    } catch (error) {
      // A TypeError is the SDK tripping over a missing part, not a message for a person.
      const detail =
        error instanceof Error && !(error instanceof TypeError)
          ? error.message
          : "a part it needs is missing";
      this.fail("STATE_TABLE_CONNECTION_STRING", `cannot be read by the Table SDK (${detail})`);
      return false;
    }
  }

  /** A watchlist alias, or undefined when the setting is not set. */
  watchlistAlias(name: SettingName): string | undefined {
    const value = this.raw(name);
    if (value === undefined || WATCHLIST_ALIAS.test(value)) return value;
    return this.fail(name, `is ${this.shown(value)}`);
  }

  /**
   * The exclusions sources: at most one of EXCLUSIONS_FILE and EXCLUSIONS, a readable file, and
   * the watchlist (read by each run: its rows are checked then).
   */
  exclusions(): RunExclusionSource {
    const file = this.raw("EXCLUSIONS_FILE");
    const inline = this.raw("EXCLUSIONS");
    const watchlist = this.watchlistAlias("EXCLUSIONS_WATCHLIST");
    if (file !== undefined && inline !== undefined) {
      this.problems.push(
        "EXCLUSIONS_FILE and EXCLUSIONS are both set; expected one of them, not both.",
      );
      return {};
    }
    if (file !== undefined) {
      const problem = fileProblem(file);
      if (problem) return this.fail("EXCLUSIONS_FILE", `'${file}' ${problem}`) ?? {};
    }
    try {
      // Checked now so every problem shows in one pass; each run reads them again (expiries).
      loadExclusions({ file, inline }, new Date());
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.problems.push(...error.problems);
    }
    return { file, inline, watchlist };
  }
}

// Six fields: croner reads the first as seconds, as NCRONTAB does. No callback, so no timer.
function nextFiring(expression: string): Date | null | "invalid" {
  try {
    return new Cron(expression, { timezone: "Etc/UTC" }).nextRun();
  } catch {
    return "invalid";
  }
}

function fileProblem(file: string): string | undefined {
  try {
    return statSync(file).isFile() ? undefined : "is not a regular file (a directory?)";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(error)})`;
  }
}

/** What the caller will do with the configuration; a dry run needs no playbook. */
export interface LoadConfigOptions {
  requirePlaybook: boolean;
}

/** Reads and validates every setting; throws ConfigError listing each problem. */
export function loadConfig(
  env: Env,
  options: LoadConfigOptions = { requirePlaybook: true },
): DetectionConfig {
  const r = new SettingsReader(env);
  const config = {
    workspaceId: r.guid("LOG_ANALYTICS_WORKSPACE_ID"),
    logAnalyticsEndpoint: r.url(
      "LOG_ANALYTICS_ENDPOINT",
      r.required("LOG_ANALYTICS_ENDPOINT"),
      true,
    ),
    lookbackMs: r.durationMs("LOOKBACK"),
    settleMs: r.durationMs("INGESTION_SETTLE"),
    maxIngestionDelayMs: r.durationMs("MAX_INGESTION_DELAY"),
    catchUpIntervalMs: r.durationMs("CATCHUP_SCHEDULE"),
    schedule: r.schedule("DETECTION_SCHEDULE"),
    grouping: r.oneOf("INCIDENT_GROUPING", GROUPINGS),
    stateTable: r.stateTable(),
    // https only: the function sends the playbook a bearer token.
    playbookUrl:
      options.requirePlaybook || r.raw("PLAYBOOK_URL")
        ? r.url("PLAYBOOK_URL", undefined, true)
        : undefined,
    // Kept as written: a token's aud is the resource exactly as asked for, trailing slash included.
    playbookTokenAudience:
      r.url("PLAYBOOK_TOKEN_AUDIENCE", undefined, true) && r.raw("PLAYBOOK_TOKEN_AUDIENCE"),
    queryTimeoutMs: r.durationMs("QUERY_TIMEOUT"),
    playbookTimeoutMs: r.durationMs("PLAYBOOK_TIMEOUT"),
    playbookMaxRetries: r.integer("PLAYBOOK_MAX_RETRIES"),
    maxRetryAfterMs: r.durationMs("MAX_RETRY_AFTER"),
    runBudgetMs: r.durationMs("RUN_BUDGET"),
    maxHitsPerRun: r.integer("MAX_HITS_PER_RUN"),
    deliveryConcurrency: r.integer("DELIVERY_CONCURRENCY"),
    deliveredRetentionMs: r.durationMs("DELIVERED_RETENTION"),
    dataSilenceWarningMs: r.durationMs("DATA_SILENCE_WARNING"),
    exclusions: r.exclusions(),
    severityPolicy: {
      default: r.oneOf("SEVERITY_DEFAULT", SEVERITIES),
      elevated: r.oneOf("SEVERITY_ELEVATED", SEVERITIES),
      benign: r.oneOf("SEVERITY_BENIGN", SEVERITIES),
    },
    managedIdentityClientId: env.AZURE_CLIENT_ID?.trim()
      ? r.guid("AZURE_CLIENT_ID", env.AZURE_CLIENT_ID.trim())
      : undefined,
  };
  if (config.lookbackMs !== undefined && config.settleMs !== undefined) {
    if (config.settleMs >= config.lookbackMs) {
      r.problems.push("INGESTION_SETTLE must be shorter than LOOKBACK.");
    }
  }

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  // Every field was checked above; the casts only drop the `undefined` of failed reads.
  return config as DetectionConfig;
}
