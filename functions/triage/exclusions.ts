// Exclusions: activity a team has verified as benign, suppressed with an audit trail. Each one
// must carry a name (recorded with every hit it suppresses) and an expiry (so an allow-list entry
// is reviewed again instead of hiding an intrusion forever). Example (YAML; JSON works too):
//
//   exclusions:
//     - name: it-nightly-inventory
//       expires: 2026-06-30              # valid through that day (UTC); or a date-time
//       reason: CHG0012345, inventory job verified with the IT asset team
//       owner: secops@contoso.com
//       devices: [inv01.contoso.com]     # optional: DeviceName, any case
//       accounts: ['CONTOSO\svc-inventory'] # optional: DOMAIN\name, or name in any domain
//       condition:                       # required: functions/triage/conditions.ts
//         all:
//           - { column: FolderPath, matches: '^C:\\Program Files\\Inventory\\' }
//           - { column: ProcessCommandLine, contains: inventory }
//
// A hit is suppressed when every given scope and the condition match. Loading is the only I/O;
// applying is pure. Expired exclusions are reported, not applied.
import { readFileSync } from "node:fs";
import { DataFileError, parseYamlText } from "../dataFile";
import { ConfigError } from "../config/configError";
import { EVENT_COLUMNS, type DetectionEvent, type EnrichedHit, type SuppressedHit } from "../model";
import { compileSchema, SchemaValidationError } from "../validation";
import { columnValue } from "./columns";
import {
  compileCondition,
  conditionProblems,
  evaluateCondition,
  withConditionSchema,
  type CompiledCondition,
  type Condition,
} from "./conditions";
import exclusionsSchema from "./exclusions.schema.json";

/** An exclusion as written in the document. */
export interface ExclusionDocumentEntry {
  name: string;
  expires: string;
  reason?: string;
  owner?: string;
  devices?: string[];
  accounts?: string[];
  rules?: string[];
  condition: Condition;
}

/** A validated exclusion, ready to apply. */
export interface Exclusion {
  name: string;
  /** As written in the document. */
  expires: string;
  /** The first instant at which it no longer applies. */
  expiresAt: Date;
  reason?: string;
  owner?: string;
  /** Lower-cased DeviceName values; undefined means any device. */
  devices?: readonly string[];
  /** Lower-cased accounts; undefined means any account. */
  accounts?: readonly { domain?: string; name: string }[];
  /** Lower-cased ids of the detections it applies to; undefined means nbtscan's only. */
  rules?: readonly string[];
  condition: CompiledCondition;
}

/** An exclusion past its expiry: not applied, reported so the run can log a warning. */
export interface ExpiredExclusion {
  name: string;
  expires: string;
  owner?: string;
  rules?: readonly string[];
}

/** The exclusions in force for a run, and the expired ones to report. */
export interface ExclusionSet {
  active: Exclusion[];
  expired: ExpiredExclusion[];
}

/** Where the exclusions document comes from: the EXCLUSIONS_FILE path or the EXCLUSIONS text. */
export interface ExclusionSource {
  file?: string;
  inline?: string;
}

/** What applying exclusions to a run's hits gives. */
export interface ExclusionOutcome {
  kept: EnrichedHit[];
  suppressed: SuppressedHit[];
  /** Names of exclusions that matched every hit of a non-empty run: log as a warning. */
  coveringEverything: string[];
}

const validateExclusions = compileSchema<{ exclusions: ExclusionDocumentEntry[] }>(
  withConditionSchema(exclusionsSchema),
  "exclusions",
);

const DAY_MS = 24 * 60 * 60 * 1000;

// A bare date means "through that day": the exclusion stops at the next UTC midnight.
function expiryInstant(expires: string): Date {
  return /^\d{4}-\d{2}-\d{2}$/.test(expires)
    ? new Date(Date.parse(`${expires}T00:00:00Z`) + DAY_MS)
    : new Date(Date.parse(expires));
}

function parseAccount(account: string): { domain?: string; name: string } {
  const lower = account.toLowerCase();
  const slash = lower.indexOf("\\");
  return slash < 0
    ? { name: lower }
    : { domain: lower.slice(0, slash), name: lower.slice(slash + 1) };
}

// A valid example of each field, quoted in the one line that names a bad one.
const FIELD_EXAMPLES: Record<string, string> = {
  name: "name: it-nightly-inventory (letters, digits, '.', '_' and '-')",
  expires: "expires: 2026-06-30 (through that day, UTC) or 2026-06-30T18:00:00Z",
  reason: "reason: CHG0012345, verified with the IT asset team",
  owner: "owner: secops@contoso.com",
  devices: "devices: [inv01.contoso.com]",
  accounts: "accounts: ['CONTOSO\\svc-inventory']",
  rules: "rules: [6f0c1d1e-3b7a-4f55-9a8e-5d1c0b8a9e21] (rule ids; without it, nbtscan's only)",
  condition: "condition: { column: FolderPath, contains: Inventory }",
};
const FIELDS = Object.keys(FIELD_EXAMPLES);
const DOCUMENT_EXAMPLE =
  "exclusions: [{ name: it-nightly-inventory, expires: 2026-06-30, condition: { column: FolderPath, contains: Inventory } }]";

function shownValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return `'${text.length > 60 ? `${text.slice(0, 59)}…` : text}'`;
}

// ajv's problem lines about one exclusion, turned into ours: one line per field, saying what is
// wrong in words and what a valid value looks like. `problems` are relative to the exclusion
// ("/expires must match format …", " must have required property 'name'").
function fieldProblems(
  entry: Record<string, unknown>,
  problems: string[],
  examples: FieldExamples,
): string[] {
  const byField = new Map<string, string>();
  for (const problem of problems) {
    const required = /must have required property '(\w+)'/.exec(problem);
    const unknown = /^ must NOT have additional properties '([^']+)'/.exec(problem);
    const path = /^\/(\w+)(\S*) (.*)$/.exec(problem);
    let field: string;
    let what: string;
    if (required && !path) {
      field = required[1];
      what = `'${field}' is missing`;
    } else if (unknown) {
      field = unknown[1];
      what = `'${field}' is not a field of an exclusion (${FIELDS.join(", ")})`;
    } else if (path) {
      field = path[1];
      what = `${field} ${shownValue(entry[field])} ${valueProblem(field, path[2], path[3])}`;
    } else {
      field = "(exclusion)";
      what = problem.trim();
    }
    if (byField.has(field)) continue;
    const example = examples[field] ?? FIELD_EXAMPLES[field];
    byField.set(field, example ? `${what}; e.g. ${example}` : what);
  }
  return [...byField.values()];
}

function valueProblem(field: string, subPath: string, ajvMessage: string): string {
  if (field === "expires") return "is not a date or a date-time with a time zone";
  if (field === "name") return "is not a name of at most 100 letters, digits, '.', '_' and '-'";
  if (field !== "condition") return ajvMessage;
  const at = subPath ? ` at ${subPath}` : "";
  if (/more than 2 properties/.test(ajvMessage)) {
    return `has more than one operator${at}: a condition is one column and exactly one of equals, notEquals, contains or matches (combine several with all: [...])`;
  }
  if (/fewer than 2 properties/.test(ajvMessage)) {
    return `has no operator${at}: add one of equals, notEquals, contains or matches`;
  }
  if (/^\/column$|\/column$/.test(subPath) && /allowed values/.test(ajvMessage)) {
    return `names an unknown column${at} (${EVENT_COLUMNS.join(", ")})`;
  }
  const extra = /additional properties '([^']+)'/.exec(ajvMessage);
  if (extra) {
    return `has '${extra[1]}'${at}, which is not an operator (equals, notEquals, contains, matches) nor column`;
  }
  return `${subPath ? `${subPath} ` : ""}${ajvMessage}`;
}

/** One exclusion checked on its own: the entry, or the lines naming what is wrong with it. */
export type CheckedEntry =
  { ok: true; entry: ExclusionDocumentEntry } | { ok: false; problems: string[] };

/** A valid example per field, in the form its source writes it (a watchlist's cells differ). */
export type FieldExamples = Partial<Record<string, string>>;

/**
 * Checks one exclusion (from a file, inline text or a watchlist row) against the schema; each
 * problem line quotes a valid example of its field, from `examples` when given.
 */
export function checkExclusionEntry(raw: unknown, examples: FieldExamples = {}): CheckedEntry {
  let schemaProblems: string[] = [];
  try {
    validateExclusions({ exclusions: [raw] });
  } catch (error) {
    if (!(error instanceof SchemaValidationError)) throw error;
    schemaProblems = error.problems.map((p) =>
      p.startsWith("/exclusions/0") ? p.slice("/exclusions/0".length) : ` ${p}`,
    );
  }
  const record = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  if (schemaProblems.length > 0)
    return { ok: false, problems: fieldProblems(record, schemaProblems, examples) };
  const entry = raw as ExclusionDocumentEntry;
  const regexProblems = conditionProblems(entry.condition, "").map(
    (p) => `condition ${p}; e.g. matches: '^C:\\\\Program Files\\\\Inventory\\\\'`,
  );
  return regexProblems.length > 0 ? { ok: false, problems: regexProblems } : { ok: true, entry };
}

/** The name a problem line calls an exclusion by: its name if it has a usable one, and its place. */
function entryLabel(raw: unknown, index: number): string {
  const name = (raw as { name?: unknown } | null)?.name;
  return typeof name === "string" && name
    ? `exclusion '${name.slice(0, 100)}' (#${index + 1})`
    : `exclusion #${index + 1}`;
}

/** A validated exclusion, ready to apply. */
export function toExclusion(entry: ExclusionDocumentEntry): Exclusion {
  return {
    name: entry.name,
    expires: entry.expires,
    expiresAt: expiryInstant(entry.expires),
    reason: entry.reason,
    owner: entry.owner,
    devices: entry.devices?.map((device) => device.toLowerCase()),
    accounts: entry.accounts?.map(parseAccount),
    rules: entry.rules?.map((id) => id.toLowerCase()),
    condition: compileCondition(entry.condition),
  };
}

/**
 * The exclusions of a set that apply to one detection: those naming its rule id, and, for the
 * rule an exclusion without `rules` means (nbtscan's: see exclusions.schema.json), those too.
 */
export function exclusionsForRule(
  set: ExclusionSet,
  ruleId: string,
  unscopedRuleId: string,
): ExclusionSet {
  const id = ruleId.toLowerCase();
  const applies = (e: { rules?: readonly string[] }): boolean =>
    e.rules ? e.rules.includes(id) : id === unscopedRuleId.toLowerCase();
  return { active: set.active.filter(applies), expired: set.expired.filter(applies) };
}

/**
 * Parses and validates an exclusions document (YAML or JSON text); `source` names it in every
 * problem (a file's path, or EXCLUSIONS). Throws SchemaValidationError whose problems are each
 * one line: `source:line:col: message` for a syntax error, else `source: exclusion 'x' (#n): …`.
 */
export function parseExclusions(text: string, source: string): Exclusion[] {
  let raw: unknown;
  try {
    raw = parseYamlText(text, source);
  } catch (error) {
    if (!(error instanceof DataFileError)) throw error;
    throw new SchemaValidationError(`exclusions (${source})`, [error.message]);
  }
  const fail = (problems: string[]): never => {
    throw new SchemaValidationError(`exclusions (${source})`, problems);
  };
  // Set but empty (blank, or only comments) is a mistake more often than a choice: say so.
  if (raw === null || raw === undefined) {
    fail([
      `${source}: has no exclusions document (it is empty); expected ${DOCUMENT_EXAMPLE}, or 'exclusions: []' for none`,
    ]);
  }
  const document = raw as { exclusions?: unknown };
  const extra =
    typeof raw === "object" && !Array.isArray(raw)
      ? Object.keys(document).filter((key) => key !== "exclusions" && key !== "$schema")
      : [];
  if (typeof raw !== "object" || Array.isArray(raw) || !Array.isArray(document.exclusions)) {
    fail([`${source}: is not an exclusions document; expected ${DOCUMENT_EXAMPLE}`]);
  }
  if (extra.length > 0) {
    fail([
      `${source}: '${extra[0]}' is not part of an exclusions document; expected ${DOCUMENT_EXAMPLE}`,
    ]);
  }
  const entries = document.exclusions as unknown[];
  const seen = new Set<string>();
  const problems: string[] = [];
  const exclusions: Exclusion[] = [];
  entries.forEach((rawEntry, i) => {
    const label = `${source}: ${entryLabel(rawEntry, i)}`;
    const checked = checkExclusionEntry(rawEntry);
    if (!checked.ok) {
      problems.push(...checked.problems.map((p) => `${label}: ${p}`));
      return;
    }
    const key = checked.entry.name.toLowerCase();
    if (seen.has(key)) {
      problems.push(
        `${label}: name '${checked.entry.name}' is used by an earlier exclusion; each needs its own name (the audit trail records it)`,
      );
    }
    seen.add(key);
    exclusions.push(toExclusion(checked.entry));
  });
  if (problems.length > 0) fail(problems);
  return exclusions;
}

/** Splits exclusions into those in force at `now` and those past their expiry. */
export function exclusionsAt(exclusions: readonly Exclusion[], now: Date): ExclusionSet {
  const active = exclusions.filter((e) => now.getTime() < e.expiresAt.getTime());
  const expired = exclusions
    .filter((e) => now.getTime() >= e.expiresAt.getTime())
    .map(({ name, expires, owner, rules }) => ({ name, expires, owner, rules }));
  return { active, expired };
}

/**
 * Reads the exclusions from EXCLUSIONS_FILE or EXCLUSIONS; any problem is a ConfigError naming
 * the setting (a bad exclusion is bad configuration: the command line exits 2).
 */
export function loadExclusions(source: ExclusionSource, now: Date): ExclusionSet {
  const inline = source.inline?.trim() ? source.inline : undefined;
  const file = source.file?.trim() ? source.file : undefined;
  if (file !== undefined && inline !== undefined) {
    throw new ConfigError([
      "EXCLUSIONS_FILE and EXCLUSIONS are both set; expected one of them, not both.",
    ]);
  }
  if (inline !== undefined) return exclusionsAt(parsedAs("EXCLUSIONS", inline), now);
  if (file === undefined) return { active: [], expired: [] };
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError([`EXCLUSIONS_FILE '${file}' cannot be read (${code}).`]);
  }
  return exclusionsAt(parsedAs(file, text), now);
}

function parsedAs(source: string, text: string): Exclusion[] {
  try {
    return parseExclusions(text, source);
  } catch (error) {
    if (!(error instanceof SchemaValidationError)) throw error;
    throw new ConfigError(error.problems);
  }
}

function matchesScope(exclusion: Exclusion, event: DetectionEvent): boolean {
  const device = columnValue(event, "DeviceName").toLowerCase();
  if (exclusion.devices && !exclusion.devices.includes(device)) return false;
  if (exclusion.accounts) {
    const domain = columnValue(event, "InitiatingProcessAccountDomain").toLowerCase();
    const name = columnValue(event, "InitiatingProcessAccountName").toLowerCase();
    const fits = exclusion.accounts.some(
      (account) =>
        account.name === name && (account.domain === undefined || account.domain === domain),
    );
    if (!fits) return false;
  }
  return true;
}

/** Whether an exclusion covers an event: every given scope and the condition match; pure. */
function exclusionMatches(exclusion: Exclusion, event: DetectionEvent): boolean {
  return matchesScope(exclusion, event) && evaluateCondition(exclusion.condition, event).matched;
}

/** Splits a run's hits into kept and suppressed (first matching exclusion wins); pure. */
export function applyExclusions(hits: readonly EnrichedHit[], set: ExclusionSet): ExclusionOutcome {
  const matrix = set.active.map((exclusion) =>
    hits.map((hit) => exclusionMatches(exclusion, hit.event)),
  );
  const kept: EnrichedHit[] = [];
  const suppressed: SuppressedHit[] = [];
  hits.forEach((hit, h) => {
    const e = matrix.findIndex((row) => row[h]);
    if (e < 0) kept.push(hit);
    else suppressed.push({ hit, exclusion: set.active[e].name });
  });
  const coveringEverything =
    hits.length === 0
      ? []
      : set.active.filter((_, e) => matrix[e].every(Boolean)).map((exclusion) => exclusion.name);
  return { kept, suppressed, coveringEverything };
}
