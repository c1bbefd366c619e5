// The shapes that flow through one detection run. Column-named fields keep the names the KQL
// projects, so a responder can paste them straight back into a Log Analytics query.

/** The Defender XDR tables nbtscan's detection reads (other rules read their own; rows.ts). */
export const SOURCE_TABLES = ["DeviceProcessEvents", "DeviceFileEvents"] as const;
/** The Device* table a row came from (the query's `withsource` column). */
export type SourceTable = string;

/**
 * One row of a detection query: the common Defender columns by name ("" where the rule's query
 * does not produce one), and the other columns the rule's entity mappings and custom details
 * name, by name, in `OtherColumns` (absent when there are none, as for nbtscan).
 */
export interface DetectionEvent {
  SourceTable: SourceTable;
  TimeGenerated: string;
  Timestamp: string;
  IngestionTime: string;
  DeviceId: string;
  DeviceName: string;
  ReportId: string;
  ActionType: string;
  FolderPath: string;
  FileName: string;
  SHA1: string;
  SHA256: string;
  ProcessCommandLine: string;
  InitiatingProcessAccountDomain: string;
  InitiatingProcessAccountName: string;
  InitiatingProcessFileName: string;
  InitiatingProcessCommandLine: string;
  InitiatingProcessParentFileName: string;
  OtherColumns?: Record<string, string>;
}

/** Columns of a DetectionEvent, the vocabulary of triage conditions. */
export type EventColumn = Exclude<keyof DetectionEvent, "OtherColumns">;

/** The columns the detection KQL projects, in its order; the result must carry every one. */
export const EVENT_COLUMNS = [
  "SourceTable",
  "TimeGenerated",
  "Timestamp",
  "IngestionTime",
  "DeviceId",
  "DeviceName",
  "ReportId",
  "ActionType",
  "FolderPath",
  "FileName",
  "SHA1",
  "SHA256",
  "ProcessCommandLine",
  "InitiatingProcessAccountDomain",
  "InitiatingProcessAccountName",
  "InitiatingProcessFileName",
  "InitiatingProcessCommandLine",
  "InitiatingProcessParentFileName",
] as const satisfies readonly EventColumn[];

// Fails to compile when DetectionEvent gains a column that the list above lacks.
type MissingColumn = Exclude<EventColumn, (typeof EVENT_COLUMNS)[number]>;
const listIsComplete: [MissingColumn] extends [never] ? true : MissingColumn = true;
void listIsComplete;

/**
 * Which rule of the query matched: nbtscan's file name, a known hash, or both; "query" for a rule
 * without nbtscan's metadata, whose query is its only explanation of a hit.
 */
export type MatchedBy = "name" | "hash" | "name+hash" | "query";

/** A benign scenario that fits an event: shown to responders as something to verify. */
export interface BenignMatch {
  scenario: string;
  title: string;
  matchedFields: EventColumn[];
}

/** What an event's ledger key rests on: its ReportId, or a hash of the row when that is empty. */
export type EventKeyBasis = "ReportId" | "contentHash";

/** An event after enrichment: its ledger key, how it matched, and triage annotations. */
export interface EnrichedHit {
  key: string;
  event: DetectionEvent;
  matchedBy: MatchedBy;
  /** A known nbtscan hash under another file name: a renamed binary. */
  renamedBinary: boolean;
  benign: BenignMatch[];
}

/** A hit that an exclusion suppressed, with the exclusion's name for the audit trail. */
export interface SuppressedHit {
  hit: EnrichedHit;
  exclusion: string;
}

export type Severity = "High" | "Medium" | "Low" | "Informational";

/** The time window one query covers, by ingestion time, half-open [start, end). */
export interface IngestionWindow {
  start: Date;
  end: Date;
}
