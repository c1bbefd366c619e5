import incidentSchema from "../../infra/incident.schema.json";
import type {
  BenignMatch,
  DetectionEvent,
  EventColumn,
  EventKeyBasis,
  MatchedBy,
  Severity,
} from "../model";
import type { Grouping } from "../config/config";
import { compileSchema } from "../validation";
import { alertRowsOf, validateAlertRows, type AlertRow } from "./alertRows";

// TypeScript view of infra/incident.schema.json; the schema file is the contract, and
// validateIncidentPayload keeps the two honest at run time and in the tests.

export interface AttackObject {
  id: string;
  name: string;
  url: string;
  description?: string;
}

export interface IncidentEvent extends DetectionEvent {
  eventKey: string;
  /** "contentHash" when the event had no ReportId and its key hashes the row instead. */
  eventKeyBasis: EventKeyBasis;
  /** Columns cut to fit, each with its original length; the full value is in Log Analytics. */
  truncated?: Partial<Record<EventColumn, number>>;
  matchedBy: MatchedBy;
  renamedBinary: boolean;
  benignScenarios: BenignMatch[];
}

export interface IncidentEntities {
  hosts: { hostName: string; mdatpDeviceId: string }[];
  /** Addresses a rule maps to its IP entity (absent for nbtscan, which maps none). */
  ips?: { address: string }[];
  accounts: { name: string; ntDomain: string }[];
  files: { name: string; directory: string; sha1: string; sha256: string }[];
  processes: {
    commandLine: string;
    imageFileName: string;
    parentImageFileName: string;
    hostName: string;
    accountName: string;
  }[];
}

/**
 * What the function posts to the playbook: the incident, and the custom-table rows the playbook
 * ingests, one per event (see alertRows.ts).
 */
export interface IncidentPayload extends IncidentRecord {
  alertRows: AlertRow[];
}

/**
 * An incident as the outbox keeps it: the payload without its alert rows. The rows repeat the
 * incident's text once per event (about four fifths of a payload), and are a pure function of
 * the rest, so they are built again when the incident is posted (toPayload) rather than stored.
 */
export interface IncidentRecord {
  schemaVersion: "2.0";
  incidentId: string;
  title: string;
  severity: Severity;
  severityReason: string;
  status: "New";
  description: string;
  evidenceComment: string;
  tactics: string[];
  techniques: string[];
  /** nbtscan's ATT&CK context with its software and campaign (rules with a meta side file). */
  attack?: {
    tactic: AttackObject;
    techniques: AttackObject[];
    software: AttackObject;
    campaign: { name: string; group: AttackObject };
  };
  firstActivityTimeUtc: string;
  lastActivityTimeUtc: string;
  entities: IncidentEntities;
  events: IncidentEvent[];
  references: { title: string; url: string }[];
  detection: {
    id: string;
    name: string;
    version: string;
    /** Alert column -> row column, from the rule's entityMappings (entityColumns.ts). */
    entityColumns?: Record<string, string>;
    /** Custom detail key -> row column, the rule's customDetails. */
    customDetails?: Record<string, string>;
  };
  workspaceId: string;
  grouping: Grouping;
}

/** The incident payload JSON Schema, as the Logic App trigger loads it. */
export const INCIDENT_SCHEMA: object = incidentSchema;

const validatePayloadShape = compileSchema<IncidentPayload>(INCIDENT_SCHEMA, "incident payload");

/** The payload the playbook receives for a recorded incident: the record and its alert rows. */
export function toPayload(record: IncidentRecord): IncidentPayload {
  return { ...record, alertRows: alertRowsOf(record) };
}

/**
 * Checks a payload against infra/incident.schema.json, and its alert rows against the custom
 * table's stream (infra/alert-table.json), as the DCR will; throws listing every violation.
 */
export function validateIncidentPayload(value: unknown, source?: string): IncidentPayload {
  const payload = validatePayloadShape(value, source);
  validateAlertRows(payload.alertRows, source);
  return payload;
}
