import type { Severity } from "../model";
import { isoDurationMs } from "./duration";
import { SETTINGS, type SettingName, type SettingSpec } from "./settings";

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
  schedule: string;
  grouping: Grouping;
  stateTable: StateTableTarget;
  /** Undefined only when the caller does not deliver (dry run). */
  playbookUrl: URL | undefined;
  queryTimeoutMs: number;
  playbookTimeoutMs: number;
  playbookMaxRetries: number;
  maxRetryAfterMs: number;
  exclusions: { file?: string; inline?: string };
  severityPolicy: { default: Severity; elevated: Severity; benign: Severity };
  managedIdentityClientId: string | undefined;
}

/** Configuration that cannot run: every problem, each naming its setting and a valid value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
const NCRONTAB_FIELDS = 6;

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
    this.problems.push(`${name} ${detail}; expected ${this.spec(name).example}.`);
    return undefined;
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
    return GUID.test(value) ? value.toLowerCase() : this.fail(name, `is '${value}'`);
  }

  durationMs(name: SettingName): number | undefined {
    const value = this.required(name);
    if (value === undefined) return undefined;
    const ms = isoDurationMs(value);
    if (ms === undefined) return this.fail(name, `is '${value}'`);
    return ms > 0 ? ms : this.fail(name, `is '${value}' (must be longer than zero)`);
  }

  url(name: SettingName, value = this.required(name), httpsOnly = false): URL | undefined {
    if (value === undefined) return undefined;
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
    return match ?? this.fail(name, `is '${value}'`);
  }

  integer(name: SettingName, min: number, max: number): number | undefined {
    const value = this.required(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    return Number.isInteger(n) && n >= min && n <= max ? n : this.fail(name, `is '${value}'`);
  }

  schedule(name: SettingName): string | undefined {
    const value = this.required(name);
    if (value === undefined) return undefined;
    return value.split(/\s+/).length === NCRONTAB_FIELDS ? value : this.fail(name, `is '${value}'`);
  }

  stateTable(): StateTableTarget | undefined {
    const tableName = this.required("STATE_TABLE_NAME");
    if (tableName !== undefined && !TABLE_NAME.test(tableName)) {
      return this.fail("STATE_TABLE_NAME", `is '${tableName}'`);
    }
    const connectionString = this.raw("STATE_TABLE_CONNECTION_STRING");
    const endpoint = this.raw("STATE_TABLE_ENDPOINT");
    if (tableName === undefined) return undefined;
    if (connectionString) return { kind: "connectionString", connectionString, tableName };
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
    schedule: r.schedule("DETECTION_SCHEDULE"),
    grouping: r.oneOf("INCIDENT_GROUPING", GROUPINGS),
    stateTable: r.stateTable(),
    playbookUrl:
      options.requirePlaybook || r.raw("PLAYBOOK_URL") ? r.url("PLAYBOOK_URL") : undefined,
    queryTimeoutMs: r.durationMs("QUERY_TIMEOUT"),
    playbookTimeoutMs: r.durationMs("PLAYBOOK_TIMEOUT"),
    playbookMaxRetries: r.integer("PLAYBOOK_MAX_RETRIES", 0, 10),
    maxRetryAfterMs: r.durationMs("MAX_RETRY_AFTER"),
    exclusions: { file: r.raw("EXCLUSIONS_FILE"), inline: r.raw("EXCLUSIONS") },
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
