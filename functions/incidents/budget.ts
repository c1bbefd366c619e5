// What one incident may weigh. The outbox stores each payload in one Table Storage entity (at most
// 1 MiB, strings counted at 2 bytes per UTF-16 code unit, 64 KiB per property), and the same
// payload is what the playbook receives. Attacker-controlled text (a command line can be 32,767
// characters) is cut to a per-field cap, marked as cut, and hits are grouped so that a payload's
// size, bounded from its hits before it is built, stays within the budget.
import type { DetectionEvent, EnrichedHit, EventColumn } from "../model";
import { ELLIPSIS } from "./markdown";

/** Largest payload, as UTF-16 bytes of its JSON: the rest of the 1 MiB entity is headroom. */
export const MAX_PAYLOAD_BYTES = 768 * 1024;

/** Longest value of an attacker-controlled column in what is stored and sent. */
export const MAX_FIELD_CHARS = 8192;

/**
 * Free-text columns an attacker chooses (paths, names, command lines): cut to MAX_FIELD_CHARS.
 * Identifiers and hashes are never cut; rows.ts quarantines one too long to store.
 */
export const TRUNCATED_COLUMNS: readonly EventColumn[] = [
  "FolderPath",
  "FileName",
  "ProcessCommandLine",
  "InitiatingProcessAccountDomain",
  "InitiatingProcessAccountName",
  "InitiatingProcessFileName",
  "InitiatingProcessCommandLine",
  "InitiatingProcessParentFileName",
];

/**
 * Everything of a payload that does not grow with its hits: title, description and evidence
 * comment (35,255 characters at most, doubled for JSON escapes of Markdown backslashes), the
 * ATT&CK mapping, references and identifiers, with a wide margin.
 */
const FIXED_PART_BYTES = 2 * (2 * 35_255 + 30_000);

/** Size of a text in Table Storage's measure: 2 bytes per UTF-16 code unit. */
export function utf16Bytes(text: string): number {
  return text.length * 2;
}

/** Size of a payload (or any JSON value) as stored: UTF-16 bytes of its JSON text. */
export function jsonBytes(value: unknown): number {
  return utf16Bytes(JSON.stringify(value) ?? "");
}

/** A value cut to `max` UTF-16 units, ending in "…", never splitting a surrogate pair. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - ELLIPSIS.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end) + ELLIPSIS;
}

/** The event with its attacker-controlled columns capped, and the original length of each cut. */
export function capEvent(event: DetectionEvent): {
  event: DetectionEvent;
  truncated: Partial<Record<EventColumn, number>>;
} {
  const capped = { ...event };
  const truncated: Partial<Record<EventColumn, number>> = {};
  for (const column of TRUNCATED_COLUMNS) {
    const value = event[column];
    if (value.length <= MAX_FIELD_CHARS) continue;
    truncated[column] = value.length;
    (capped as Record<EventColumn, string>)[column] = truncateText(value, MAX_FIELD_CHARS);
  }
  return { event: capped, truncated };
}

/**
 * An upper bound on what one hit adds to a payload: its capped event, eventKey and annotations
 * in `events`, and at most as much again (plus property names) in `entities`.
 */
export function hitBytesBound(hit: EnrichedHit): number {
  const event = jsonBytes(capEvent(hit.event).event);
  return 3 * event + 2 * jsonBytes(hit.key) + jsonBytes(hit.benign) + 2048;
}

/** Whether a payload built from these hits is certain to fit MAX_PAYLOAD_BYTES. */
export function fitsOnePayload(bytesBound: number): boolean {
  return FIXED_PART_BYTES + bytesBound <= MAX_PAYLOAD_BYTES;
}
