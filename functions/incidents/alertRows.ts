import alertTable from "../../infra/alert-table.json";
import type { Severity } from "../model";
import { rowValue } from "../triage/columns";
import { compileSchema } from "../validation";
import { ELLIPSIS } from "./markdown";
import type { IncidentRecord } from "./payload";

// The rows the playbook ingests into the custom table NbtscanAlerts_CL, from which the Sentinel
// analytics rule (infra/modules/sentinel-rule.bicep) makes alerts and incidents.
//
// One row per event, not one per incident. An entity mapping reads one value per column per row,
// so a row per incident could carry one host, one account, one file and one process at most,
// whereas a group of events may have several of each; a row per event gives every alert its own
// complete entities. The rule makes one alert per row (at most 150 per run, far above the
// events one five-minute window brings) and groups the alerts by IncidentKey, so one incident
// of ours is still one Sentinel incident, with up to MAX_EVENTS_PER_INCIDENT (50) alerts, within
// Sentinel's 150 alerts per incident.
//
// Limits of the Logs Ingestion API (learn.microsoft.com/azure/azure-monitor/logs/
// logs-ingestion-api-overview#limits-and-restrictions, and service-limits#logs-ingestion-api):
// 1 MB per call, 64 KB per field (longer values are truncated by the service). Every field is
// cut to FIELD_BYTES here, so a cut is ours and visible ("…"), and the rows of one incident are
// kept under CALL_BYTES so the playbook's single call is accepted.

/** One column of the custom table, as infra/alert-table.json declares it. */
export interface AlertColumn {
  name: string;
  type: "string" | "int" | "long" | "real" | "boolean" | "datetime" | "dynamic";
}

/** The custom table: the Bicep table and the DCR's stream take its columns as they are. */
export const ALERT_TABLE = alertTable as unknown as {
  name: string;
  description: string;
  columns: AlertColumn[];
  columnDescriptions: Record<string, string>;
};

/** The DCR's transformation sets TimeGenerated at ingestion; the rows never carry it. */
export const INGESTION_TIME_COLUMN = "TimeGenerated";

/** Columns the rows carry: the table's, minus the one the DCR's transformation sets. */
export const ROW_COLUMNS: readonly AlertColumn[] = ALERT_TABLE.columns.filter(
  (c) => c.name !== INGESTION_TIME_COLUMN,
);

/** One row of NbtscanAlerts_CL as the function sends it. */
export interface AlertRow {
  IncidentKey: string;
  EventKey: string;
  EventIndex: number;
  EventCount: number;
  AlertTitle: string;
  AlertSeverity: Severity;
  AlertDescription: string;
  /** The detection's tactics and techniques, comma-separated: one rule alerts for every detection. */
  AlertTactics: string;
  AlertTechniques: string;
  EvidenceComment: string;
  DetectionId: string;
  DetectionVersion: string;
  EventTime: string;
  EventIngestionTime: string;
  FirstActivityTime: string;
  LastActivityTime: string;
  SourceTable: string;
  ActionType: string;
  ReportId: string;
  DeviceId: string;
  DeviceName: string;
  HostName: string;
  HostDnsDomain: string;
  /** The address the rule maps to its IP entity ("" when it maps none). */
  IPAddress: string;
  AccountName: string;
  AccountDomain: string;
  FileName: string;
  FileDirectory: string;
  SHA1: string;
  SHA256: string;
  ProcessCommandLine: string;
  ParentProcessName: string;
  ParentProcessCommandLine: string;
  GrandparentProcessName: string;
  MatchedBy: string;
  RenamedBinary: boolean;
  BenignScenarios: string[];
  References: string[];
  /** The rule's customDetails, key -> the event's value of the column it names. */
  CustomDetails: Record<string, string>;
}

/** Largest field the service stores whole is 64 KB; this leaves room to spare. */
export const FIELD_BYTES = 32_000;
/** The Logs Ingestion API takes at most 1 MB per call; the playbook sends one call per incident. */
export const CALL_BYTES = 900_000;
/** What a row other than the first says when the incident's rows would not fit in one call. */
const SHORT_FIELD_BYTES = 128;
/** The first row's fields when even the shortened rows do not fit. */
const FIRST_ROW_FALLBACK_BYTES = 2_000;

// The JSON Schema the DCR's stream implies for our rows: each column with its type, nothing else.
function columnSchema(column: AlertColumn): object {
  switch (column.type) {
    case "string":
      return { type: "string" };
    case "int":
    case "long":
      return { type: "integer" };
    case "real":
      return { type: "number" };
    case "boolean":
      return { type: "boolean" };
    case "datetime":
      return { type: "string", format: "date-time" };
    case "dynamic":
      return {};
  }
}

/** JSON Schema of one ingested row, derived from infra/alert-table.json. */
export const ALERT_ROW_SCHEMA: object = {
  type: "object",
  additionalProperties: false,
  required: ROW_COLUMNS.map((c) => c.name),
  properties: Object.fromEntries(ROW_COLUMNS.map((c) => [c.name, columnSchema(c)])),
};

/** Checks rows against the table's stream, as the DCR would; throws listing every problem. */
export const validateAlertRows = compileSchema<AlertRow[]>(
  { type: "array", minItems: 1, items: ALERT_ROW_SCHEMA },
  `rows for ${ALERT_TABLE.name}`,
);

/** Size of a value as UTF-8 JSON, as it travels; never less than what the service stores. */
function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/** Cuts a string to at most maxBytes of UTF-8 JSON, on a code point boundary, marking the cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  // JSON takes at most 6 bytes per UTF-16 unit ("\u001f"): most values fit without measuring.
  if (text.length * 6 <= maxBytes) return text;
  if (jsonBytes(text) - 2 <= maxBytes) return text;
  const budget = maxBytes - jsonBytes(ELLIPSIS) + 2;
  let out = "";
  let used = 0;
  for (const char of text) {
    const size = jsonBytes(char) - 2;
    if (used + size > budget) break;
    out += char;
    used += size;
  }
  return out + ELLIPSIS;
}

function mapStrings(row: AlertRow, cut: (value: string, column: string) => string): AlertRow {
  // A copy with its strings cut; a plain loop, as this runs for every row of every incident.
  const copy: Record<string, unknown> = { ...row };
  for (const column of Object.keys(copy)) {
    const value = copy[column];
    if (typeof value === "string") copy[column] = cut(value, column);
  }
  return copy as unknown as AlertRow;
}

// Defender's DeviceName is the fully qualified name; Sentinel's Host entity wants the host name
// and its DNS domain apart (HostName+DnsDomain is a strong identifier, entities-reference).
function splitDeviceName(deviceName: string): { hostName: string; dnsDomain: string } {
  const dot = deviceName.indexOf(".");
  return dot > 0
    ? { hostName: deviceName.slice(0, dot), dnsDomain: deviceName.slice(dot + 1) }
    : { hostName: deviceName, dnsDomain: "" };
}

// Defender reports a folder path that ends in the file name; the File entity wants the folder.
function directoryOf(folderPath: string, fileName: string): string {
  if (fileName && folderPath.toLowerCase().endsWith(`\\${fileName.toLowerCase()}`)) {
    return folderPath.slice(0, folderPath.length - fileName.length - 1);
  }
  return folderPath;
}

/**
 * The custom-table rows of one incident: one per event, in the incident's event order. A pure
 * function of the recorded incident, so the rows of an incident id are the same at every post.
 */
export function alertRowsOf(incident: IncidentRecord): AlertRow[] {
  const references = incident.references.map((r) => r.url);
  const mapped = incident.detection.entityColumns ?? {};
  const details = Object.entries(incident.detection.customDetails ?? {});
  const rows = incident.events.map((e, i): AlertRow => {
    // An entity column the rule maps reads the column it names; the others keep the common
    // Defender column of the same meaning ("" when the rule's row has none).
    const entity = (alertColumn: string, common: string): string =>
      mapped[alertColumn] === undefined ? common : rowValue(e, mapped[alertColumn]);
    const { hostName, dnsDomain } = splitDeviceName(entity("HostName", e.DeviceName));
    const fileName = entity("FileName", e.FileName);
    return {
      IncidentKey: incident.incidentId,
      EventKey: e.eventKey,
      EventIndex: i + 1,
      EventCount: incident.events.length,
      AlertTitle: incident.title,
      AlertSeverity: incident.severity,
      // Every row carries the incident's description: Sentinel names and describes the incident
      // after whichever of its alerts comes first, and the order of a rule run's alerts is not ours.
      AlertDescription: incident.description,
      // Per row, so one analytics rule carries each detection's own ATT&CK mapping
      // (alertTacticsColumnName and the Techniques dynamic property; sentinel-rule.bicep).
      AlertTactics: incident.tactics.join(","),
      AlertTechniques: incident.techniques.join(","),
      // The comment playbook reads it from the first row: once per incident is enough.
      EvidenceComment: i === 0 ? incident.evidenceComment : "",
      DetectionId: incident.detection.id,
      DetectionVersion: incident.detection.version,
      EventTime: e.Timestamp,
      EventIngestionTime: e.IngestionTime,
      FirstActivityTime: incident.firstActivityTimeUtc,
      LastActivityTime: incident.lastActivityTimeUtc,
      SourceTable: e.SourceTable,
      ActionType: e.ActionType,
      ReportId: e.ReportId,
      DeviceId: e.DeviceId,
      DeviceName: e.DeviceName,
      HostName: hostName,
      HostDnsDomain: entity("HostDnsDomain", dnsDomain),
      IPAddress: entity("IPAddress", ""),
      AccountName: entity("AccountName", e.InitiatingProcessAccountName),
      AccountDomain: entity("AccountDomain", e.InitiatingProcessAccountDomain),
      FileName: fileName,
      FileDirectory: directoryOf(entity("FileDirectory", e.FolderPath), fileName),
      SHA1: e.SHA1,
      SHA256: e.SHA256,
      ProcessCommandLine: entity("ProcessCommandLine", e.ProcessCommandLine),
      ParentProcessName: e.InitiatingProcessFileName,
      ParentProcessCommandLine: e.InitiatingProcessCommandLine,
      GrandparentProcessName: e.InitiatingProcessParentFileName,
      MatchedBy: e.matchedBy,
      RenamedBinary: e.renamedBinary,
      BenignScenarios: e.benignScenarios.map((b) => b.scenario),
      References: references,
      CustomDetails: Object.fromEntries(details.map(([key, column]) => [key, rowValue(e, column)])),
    };
  });
  return fitOneCall(
    rows.map((row) => mapStrings(row, (value) => truncateUtf8(value, FIELD_BYTES))),
  );
}

// The keys identify the row (the comment playbook and the health rule look rows up by them), so
// they are never cut; every other string is.
const KEY_COLUMNS = new Set(["IncidentKey", "EventKey"]);

function cutTo(maxBytes: number): (value: string, column: string) => string {
  return (value, column) => (KEY_COLUMNS.has(column) ? value : truncateUtf8(value, maxBytes));
}

function callBytes(rows: AlertRow[]): number {
  return jsonBytes(rows);
}

/**
 * An upper bound of callBytes(rows) that measures each long value once: every row repeats the
 * incident's description and references, and serialising all rows to learn they fit (they
 * nearly always do) was the costliest step of building an incident.
 */
function callBytesAtMost(rows: AlertRow[]): number {
  const measured = new Map<unknown, number>();
  const bytes = (value: unknown): number => {
    // At most 6 bytes per UTF-16 unit, plus the quotes; short strings are not worth measuring.
    if (typeof value === "string" && value.length <= 64) return value.length * 6 + 2;
    let n = measured.get(value);
    if (n === undefined) measured.set(value, (n = jsonBytes(value)));
    return n;
  };
  let total = 2; // [ ]
  for (const row of rows) {
    total += 3; // { } and the comma before the next row
    for (const [column, value] of Object.entries(row)) total += column.length + 4 + bytes(value);
  }
  return total;
}

// Only attacker-sized values (huge command lines, paths, names) can push 50 rows past one call.
// Then the first row stays whole (the incident's description and evidence live there) and the
// others keep their identifying columns but short free text: an alert that says less beats an
// incident whose rows the service refuses.
function fitOneCall(rows: AlertRow[]): AlertRow[] {
  if (callBytesAtMost(rows) <= CALL_BYTES || callBytes(rows) <= CALL_BYTES) return rows;
  const [first, ...rest] = rows;
  const shortened = rest.map((row) => mapStrings(row, cutTo(SHORT_FIELD_BYTES)));
  const fitted = [first, ...shortened];
  if (callBytes(fitted) <= CALL_BYTES) return fitted;
  // Still too big: the first row's free text is cut too.
  return [mapStrings(first, cutTo(FIRST_ROW_FALLBACK_BYTES)), ...shortened];
}
