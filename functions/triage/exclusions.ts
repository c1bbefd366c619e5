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
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../config/configError";
import type { DetectionEvent, EnrichedHit, SuppressedHit } from "../model";
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
interface ExclusionDocumentEntry {
  name: string;
  expires: string;
  reason?: string;
  owner?: string;
  devices?: string[];
  accounts?: string[];
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
  condition: CompiledCondition;
}

/** An exclusion past its expiry: not applied, reported so the run can log a warning. */
export interface ExpiredExclusion {
  name: string;
  expires: string;
  owner?: string;
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

/** Parses and validates an exclusions document (YAML or JSON text); `label` names its source. */
export function parseExclusions(text: string, label: string): Exclusion[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new SchemaValidationError(`exclusions (${label})`, [
      `not valid JSON or YAML: ${message}`,
    ]);
  }
  // An empty document (blank, or only comments) means no exclusions.
  const document = validateExclusions(raw ?? { exclusions: [] }, label);
  const seen = new Set<string>();
  const problems = document.exclusions.flatMap((exclusion, i) => {
    const where = `/exclusions/${i}`;
    const found = conditionProblems(exclusion.condition, `${where}/condition`);
    if (seen.has(exclusion.name.toLowerCase())) {
      found.unshift(`${where}/name '${exclusion.name}' is used by an earlier exclusion`);
    }
    seen.add(exclusion.name.toLowerCase());
    return found;
  });
  if (problems.length > 0) throw new SchemaValidationError(`exclusions (${label})`, problems);
  return document.exclusions.map((entry) => ({
    name: entry.name,
    expires: entry.expires,
    expiresAt: expiryInstant(entry.expires),
    reason: entry.reason,
    owner: entry.owner,
    devices: entry.devices?.map((device) => device.toLowerCase()),
    accounts: entry.accounts?.map(parseAccount),
    condition: compileCondition(entry.condition),
  }));
}

/** Splits exclusions into those in force at `now` and those past their expiry. */
export function exclusionsAt(exclusions: readonly Exclusion[], now: Date): ExclusionSet {
  const active = exclusions.filter((e) => now.getTime() < e.expiresAt.getTime());
  const expired = exclusions
    .filter((e) => now.getTime() >= e.expiresAt.getTime())
    .map(({ name, expires, owner }) => ({ name, expires, owner }));
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
  return exclusionsAt(parsedAs(`EXCLUSIONS_FILE ${file}`, text), now);
}

function parsedAs(label: string, text: string): Exclusion[] {
  try {
    return parseExclusions(text, label);
  } catch (error) {
    if (!(error instanceof SchemaValidationError)) throw error;
    throw new ConfigError(error.problems.map((problem) => `${label}: ${problem}`));
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
