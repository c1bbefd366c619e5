import type { DetectionRule } from "../detection/rule";
import type { BenignMatch, DetectionEvent, EnrichedHit, MatchedBy } from "../model";

/**
 * The event's identity in the ledger: table, DeviceName, Timestamp and ReportId, which Microsoft
 * documents as unique together.
 */
export function eventKey(event: DetectionEvent): string {
  return [event.SourceTable, event.DeviceName.toLowerCase(), event.Timestamp, event.ReportId].join(
    "|",
  );
}

/** Which rule of the query matched this event: the file name, a known hash, or both. */
export function matchedBy(event: DetectionEvent, rule: DetectionRule): MatchedBy | undefined {
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
