// The one list of settings the function reads. The config parser, the Bicep app-settings test
// and the README's configuration table all derive from it.

/** Where a setting's value comes from when it is deployed. */
export type SettingSource = "infra" | "optional";

/** One environment variable the detection reads. */
export interface SettingSpec {
  name: string;
  /** Default when unset; undefined means the setting has no default. */
  default?: string;
  /** What a valid value looks like, quoted in configuration errors. */
  example: string;
  description: string;
  /** "infra": the Bicep deployment sets it; "optional": operators add it when needed. */
  source: SettingSource;
  /** Accepted range of a duration (ISO 8601) or whole-number setting, both ends included. */
  range?: { min: string; max: string };
}

export const SETTINGS = [
  {
    name: "LOG_ANALYTICS_WORKSPACE_ID",
    example: "a GUID such as 00000000-0000-0000-0000-000000000000",
    description: "Customer (workspace) id of the Sentinel Log Analytics workspace to query.",
    source: "infra",
  },
  {
    name: "LOG_ANALYTICS_ENDPOINT",
    default: "https://api.loganalytics.io/v1",
    example: "an https URL such as https://api.loganalytics.io/v1",
    description:
      "Log Analytics query API base URL. Sovereign clouds set their own; the token scope follows its origin.",
    source: "infra",
  },
  {
    name: "LOOKBACK",
    default: "P7D",
    example: "an ISO 8601 duration such as P7D or PT12H",
    description:
      "How far back the first run looks, and the TimeGenerated span the catch-up pass covers so events that arrive days late are still found.",
    source: "infra",
    range: { min: "PT10M", max: "P30D" },
  },
  {
    name: "INGESTION_SETTLE",
    default: "PT2M",
    example: "an ISO 8601 duration such as PT2M",
    description: "Margin before now that a window stops at, so in-flight ingestion is not skipped.",
    source: "infra",
    range: { min: "PT1S", max: "PT1H" },
  },
  {
    name: "MAX_INGESTION_DELAY",
    default: "P1D",
    example: "an ISO 8601 duration such as P1D",
    description:
      "How long after it happened an event may arrive and still be found by the next scheduled run, which reads only this far back before its window (the catch-up pass finds later arrivals).",
    source: "optional",
    range: { min: "PT10M", max: "P30D" },
  },
  {
    name: "CATCHUP_SCHEDULE",
    default: "PT1H",
    example: "an ISO 8601 duration such as PT1H",
    description:
      "How often a scheduled run also makes the catch-up pass: the events ingested since the last one, over the whole LOOKBACK, so devices offline for days are not missed.",
    source: "infra",
    range: { min: "PT5M", max: "P1D" },
  },
  {
    name: "DETECTION_SCHEDULE",
    default: "0 */5 * * * *",
    example: "a six-field NCRONTAB expression such as 0 */5 * * * *",
    description:
      "Timer schedule of the function (read by the Functions host through %DETECTION_SCHEDULE%).",
    source: "infra",
  },
  {
    name: "INCIDENT_GROUPING",
    default: "device",
    example: "device, run or event",
    description:
      "How hits become incidents: one per device per run, one per run, or one per event.",
    source: "infra",
  },
  {
    name: "STATE_TABLE_ENDPOINT",
    example: "https://<account>.table.core.windows.net",
    description:
      "Table Storage endpoint for the state table, reached with the managed identity. Either this or STATE_TABLE_CONNECTION_STRING.",
    source: "infra",
  },
  {
    name: "STATE_TABLE_CONNECTION_STRING",
    example: "UseDevelopmentStorage=true or an Azurite connection string",
    description: "Connection string for the state table (local development and Azurite only).",
    source: "optional",
  },
  {
    name: "STATE_TABLE_NAME",
    default: "nbtscandetector",
    example: "3-63 letters and digits, starting with a letter",
    description: "Table holding the watermark, the seen-event ledger and the incident outbox.",
    source: "infra",
  },
  {
    name: "PLAYBOOK_URL",
    example:
      "https://prod-00.westeurope.logic.azure.com/workflows/.../triggers/manual/paths/invoke?api-version=2016-10-01",
    description:
      "Logic App playbook trigger URL the incidents are posted to, without a SAS signature (no sp, sv or sig): the trigger accepts only the function's Entra ID token.",
    source: "infra",
  },
  {
    name: "PLAYBOOK_TOKEN_AUDIENCE",
    default: "https://management.azure.com/",
    example: "an https URI such as https://management.azure.com/",
    description:
      "Audience of the token the function sends the playbook; the playbook's authorization policy names the same (its aud claim).",
    source: "infra",
  },
  {
    name: "QUERY_TIMEOUT",
    default: "PT2M",
    example: "an ISO 8601 duration such as PT2M",
    description: "Upper bound for one Log Analytics request.",
    source: "optional",
    range: { min: "PT5S", max: "PT10M" },
  },
  {
    name: "PLAYBOOK_TIMEOUT",
    default: "PT30S",
    example: "an ISO 8601 duration such as PT30S",
    description: "Upper bound for one POST to the playbook.",
    source: "optional",
    range: { min: "PT1S", max: "PT5M" },
  },
  {
    name: "PLAYBOOK_MAX_RETRIES",
    default: "3",
    example: "a whole number such as 3",
    description:
      "Retries of one delivery within the run on 408, 429, 5xx, timeouts or network errors (backoff with jitter).",
    source: "optional",
    range: { min: "0", max: "10" },
  },
  {
    name: "MAX_RETRY_AFTER",
    default: "PT30S",
    example: "an ISO 8601 duration such as PT30S",
    description:
      "Cap on a server's Retry-After wait, so a run cannot outlive the function timeout.",
    source: "optional",
    range: { min: "PT1S", max: "PT5M" },
  },
  {
    name: "RUN_BUDGET",
    default: "PT8M",
    example: "an ISO 8601 duration such as PT8M",
    description:
      "Time one run may take. It stops starting work before then and the next run carries on; it must stay below host.json's functionTimeout (10 minutes).",
    source: "optional",
    range: { min: "PT30S", max: "PT9M" },
  },
  {
    name: "MAX_HITS_PER_RUN",
    default: "100000",
    example: "a whole number such as 100000",
    description:
      "Most hits one run takes on; a larger backlog is read in ingestion-time sub-windows over the next runs.",
    source: "optional",
    range: { min: "1000", max: "1000000" },
  },
  {
    name: "DELIVERY_CONCURRENCY",
    default: "4",
    example: "a whole number such as 4",
    description: "Incidents posted to the playbook at once.",
    source: "optional",
    range: { min: "1", max: "32" },
  },
  {
    name: "DELIVERED_RETENTION",
    default: "P30D",
    example: "an ISO 8601 duration such as P30D",
    description:
      "How long the outbox keeps its log of delivered incidents, and the quarantine its rows. Ledger days are kept for LOOKBACK plus one day.",
    source: "optional",
    range: { min: "P1D", max: "P365D" },
  },
  {
    name: "DATA_SILENCE_WARNING",
    default: "P1D",
    example: "an ISO 8601 duration such as P1D",
    description:
      "How long DeviceProcessEvents or DeviceFileEvents may receive nothing before a run warns that the table is silent (its data connector may be broken) and the data-liveness alert fires.",
    source: "optional",
    range: { min: "PT1H", max: "P30D" },
  },
  {
    name: "EXCLUSIONS_FILE",
    example: "a path to a JSON or YAML exclusions file",
    description: "Reviewed exclusions (benign activity to suppress, with expiry). See README.",
    source: "optional",
  },
  {
    name: "EXCLUSIONS",
    example: "the exclusions document itself, as JSON or YAML",
    description:
      "Inline alternative to EXCLUSIONS_FILE, convenient as an app setting; azd sets it from EXCLUSIONS_BASE64 (empty: none).",
    source: "infra",
  },
  {
    name: "EXCLUSIONS_WATCHLIST",
    example:
      "a Microsoft Sentinel watchlist alias such as nbtscan-exclusions (letters, digits, '-' and '_')",
    description:
      "Alias of the Sentinel watchlist analysts keep exclusions in, read by each run and merged with EXCLUSIONS_FILE or EXCLUSIONS; the Bicep creates it. See README.",
    source: "infra",
  },
  {
    name: "SEVERITY_DEFAULT",
    default: "Medium",
    example: "High, Medium, Low or Informational",
    description: "Severity of an incident with no aggravating or benign signal.",
    source: "optional",
  },
  {
    name: "SEVERITY_ELEVATED",
    default: "High",
    example: "High, Medium, Low or Informational",
    description:
      "Severity when a renamed nbtscan binary runs or it runs from a user-writable or temporary folder.",
    source: "optional",
  },
  {
    name: "SEVERITY_BENIGN",
    default: "Low",
    example: "High, Medium, Low or Informational",
    description: "Severity when every hit of the incident fits a benign scenario.",
    source: "optional",
  },
  {
    name: "AZURE_CLIENT_ID",
    example: "the client id (GUID) of the user-assigned managed identity",
    description:
      "Which managed identity the function authenticates with (Azure Identity's standard setting).",
    source: "infra",
  },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof SETTINGS)[number]["name"];

/** What a valid value of the setting is: its example and, for a bounded one, the range. */
export function acceptedValues(spec: SettingSpec): string {
  return spec.range ? `${spec.example}, from ${spec.range.min} to ${spec.range.max}` : spec.example;
}

/** Names of every setting the function reads. */
export const SETTING_NAMES: readonly SettingName[] = SETTINGS.map((s) => s.name);
