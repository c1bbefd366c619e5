import { createHash } from "node:crypto";
import { hasProjectMetadata, type DetectionRule } from "../detection/rule";
import {
  EVENT_COLUMNS,
  type BenignMatch,
  type DetectionEvent,
  type EnrichedHit,
  type EventKeyBasis,
  type MatchedBy,
} from "../model";
import type { QuarantinedRow } from "../query/rows";

/** Marks a key whose last part is a hash of the row's content, not a ReportId. */
const CONTENT_HASH_PREFIX = "sha256:";
// Columns that say when the row reached the workspace, not what happened: the same event
// ingested twice must still get one key.
const INGESTION_COLUMNS = new Set(["TimeGenerated", "IngestionTime"]);

/** What the event's key rests on: its ReportId, or (when that is empty) the row's content. */
export function eventKeyBasis(event: DetectionEvent): EventKeyBasis {
  return event.ReportId ? "ReportId" : "contentHash";
}

function contentHash(event: DetectionEvent): string {
  const content: unknown[] = EVENT_COLUMNS.filter((c) => !INGESTION_COLUMNS.has(c)).map(
    (c) => event[c],
  );
  // A rule's other columns are part of its row's content (nbtscan's rows have none: its keys stay).
  if (event.OtherColumns) content.push(Object.entries(event.OtherColumns));
  return CONTENT_HASH_PREFIX + createHash("sha256").update(JSON.stringify(content)).digest("hex");
}

/**
 * The event's identity in the ledger: table, DeviceName, Timestamp and ReportId, which Microsoft
 * documents as unique together. Without a ReportId, two different hits on one device at one
 * instant would share a key (and one would be lost as a duplicate), so a hash of the row's
 * content stands in for it.
 */
export function eventKey(event: DetectionEvent): string {
  const report = eventKeyBasis(event) === "ReportId" ? event.ReportId : contentHash(event);
  return [event.SourceTable, event.DeviceName.toLowerCase(), event.Timestamp, report].join("|");
}

/**
 * Which rule of the query matched this event: the file name, a known hash, or both; "query" for
 * a rule without nbtscan's metadata (its query is the only account of why a row matched).
 */
export function matchedBy(event: DetectionEvent, rule: DetectionRule): MatchedBy | undefined {
  if (!hasProjectMetadata(rule)) return "query";
  const byName = event.FileName.toLowerCase() === rule.detectedFileName.toLowerCase();
  const byHash = rule.knownHashes.sha1.includes(event.SHA1.toLowerCase());
  if (byName && byHash) return "name+hash";
  if (byName) return "name";
  if (byHash) return "hash";
  return undefined;
}

/** A query row that neither rule explains: the KQL and the rule metadata disagree. */
export class UnexplainedHitError extends Error {
  constructor(event: DetectionEvent) {
    super(
      `query returned an event matching neither the file name nor a known hash ` +
        `(${event.SourceTable} ${event.DeviceName} ${event.Timestamp} ${event.ReportId})`,
    );
    this.name = "UnexplainedHitError";
  }
}

/** Sets aside the rows that neither rule explains (quarantined, with the reason); pure. */
export function explainedEvents(
  events: readonly DetectionEvent[],
  rule: DetectionRule,
): { events: DetectionEvent[]; quarantined: QuarantinedRow[] } {
  const explained: DetectionEvent[] = [];
  const quarantined: QuarantinedRow[] = [];
  for (const event of events) {
    if (matchedBy(event, rule) !== undefined) explained.push(event);
    else {
      const { OtherColumns, ...common } = event;
      quarantined.push({
        reason: new UnexplainedHitError(event).message,
        row: { ...common, ...OtherColumns },
      });
    }
  }
  return { events: explained, quarantined };
}

/** Annotates one query row: its key, how it matched, and the benign scenarios it fits. */
export function enrichHit(
  event: DetectionEvent,
  rule: DetectionRule,
  benignScenariosOf: (event: DetectionEvent) => BenignMatch[],
): EnrichedHit {
  const how = matchedBy(event, rule);
  if (how === undefined) throw new UnexplainedHitError(event);
  return {
    key: eventKey(event),
    event,
    matchedBy: how,
    renamedBinary: how === "hash",
    benign: benignScenariosOf(event),
  };
}
