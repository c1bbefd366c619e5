// What one incident may weigh. The outbox stores each incident record in one Table Storage entity
// (at most 1 MiB, strings counted at 2 bytes per UTF-16 code unit, 64 KiB per property); the
// playbook receives the record with its alert rows, which alertRows.ts keeps within the Logs
// Ingestion API's own limits. Attacker-controlled text (a command line can be 32,767 characters)
// is cut to a per-field cap and marked as cut; an incident whose record still exceeds the budget
// is split (buildIncidentParts in buildIncident.ts).
import type { DetectionEvent, EventColumn } from "../model";
import { ELLIPSIS } from "./markdown";

/**
 * Largest incident record, as UTF-16 bytes of its JSON text (what the outbox stores). The other
 * 64 KiB of the 1 MiB entity hold the row's own properties and each property's name and overhead.
 */
export const MAX_RECORD_BYTES = 960 * 1024;

/**
 * Longest attacker-controlled value in what is stored and sent, counted as JSON text (a quote or
 * backslash takes 2 characters there, a control character 6), so the cap bounds what is stored.
 */
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

/** Size of a text in Table Storage's measure: 2 bytes per UTF-16 code unit. */
export function utf16Bytes(text: string): number {
  return text.length * 2;
}

/** Size of a payload (or any JSON value) as stored: UTF-16 bytes of its JSON text. */
export function jsonBytes(value: unknown): number {
  return utf16Bytes(JSON.stringify(value) ?? "");
}

/** Length of a string's JSON text, without the quotes: what storing it really takes. */
export function jsonLength(text: string): number {
  return JSON.stringify(text).length - 2;
}

/**
 * A value cut so that its JSON text is at most `max` UTF-16 units, ending in "…", on a code point
 * boundary (never half a surrogate pair).
 */
export function truncateText(text: string, max: number): string {
  if (jsonLength(text) <= max) return text;
  const budget = max - ELLIPSIS.length;
  let used = 0;
  let end = 0;
  while (end < text.length) {
    const code = text.codePointAt(end) ?? 0;
    const units = code > 0xffff ? 2 : 1;
    const size = units === 2 ? 2 : charJsonLength(code);
    if (used + size > budget) break;
    used += size;
    end += units;
  }
  return text.slice(0, end) + ELLIPSIS;
}

// What JSON.stringify makes of one UTF-16 unit (not part of a pair): quote and backslash and the
// short escapes take 2, other control characters and lone surrogates \uXXXX (6).
function charJsonLength(code: number): number {
  if (code === 0x22 || code === 0x5c) return 2;
  if (code < 0x20) return [0x08, 0x09, 0x0a, 0x0c, 0x0d].includes(code) ? 2 : 6;
  if (code >= 0xd800 && code <= 0xdfff) return 6;
  return 1;
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
    if (value.length <= MAX_FIELD_CHARS / 6 || jsonLength(value) <= MAX_FIELD_CHARS) continue;
    truncated[column] = value.length;
    (capped as Record<EventColumn, string>)[column] = truncateText(value, MAX_FIELD_CHARS);
  }
  return { event: capped, truncated };
}
