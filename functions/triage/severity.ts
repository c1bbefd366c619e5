// Severity of an incident, from all its hits:
//
//   1. elevated (High by default) when any hit is aggravating:
//        - a known nbtscan hash under another file name (hit.renamedBinary), or
//        - the file is in a user-writable or temporary folder: FolderPath contains, ignoring case
//          and with / read as \, one of USER_WRITABLE_FOLDERS:
//          \Users\  \AppData\  \Temp\  \Windows\Temp\  \ProgramData\  \Downloads\  \Public\
//          \$Recycle.Bin\
//   2. otherwise benign (Low by default) when every hit fits at least one benign scenario;
//   3. otherwise default (Medium by default).
//
// Aggravating signals win over benign scenarios: scenarios match text an attacker controls (a
// command line can say "inventory", a script can be called check.bat), while renaming the binary
// or dropping it in a temporary or profile folder is what intruders do and what a deployed
// inventory or patch product, installed under Program Files, does not. The three levels come
// from the SEVERITY_DEFAULT / SEVERITY_ELEVATED / SEVERITY_BENIGN settings.
import type { DetectionEvent, EnrichedHit, Severity } from "../model";
import { columnValue } from "./columns";

/** The severity each outcome of the rule gets, per deployment. */
export interface SeverityPolicy {
  default: Severity;
  elevated: Severity;
  benign: Severity;
}

/** The levels used when the SEVERITY_* settings are not set. */
export const DEFAULT_SEVERITY_POLICY: Readonly<SeverityPolicy> = {
  default: "Medium",
  elevated: "High",
  benign: "Low",
};

/** Folder fragments that mark a user-writable or temporary location (matched ignoring case). */
export const USER_WRITABLE_FOLDERS = [
  "\\Users\\",
  "\\AppData\\",
  "\\Temp\\",
  "\\Windows\\Temp\\",
  "\\ProgramData\\",
  "\\Downloads\\",
  "\\Public\\",
  "\\$Recycle.Bin\\",
] as const;

/** An incident's severity and the sentence that explains it. */
export interface SeverityAssessment {
  severity: Severity;
  reason: string;
}

const LOWER_CASE_FOLDERS = USER_WRITABLE_FOLDERS.map((marker) => marker.toLowerCase());

/** The user-writable or temporary folder markers a path contains, in list order. */
export function userWritableMarkers(folderPath: string): string[] {
  // The trailing \ lets a FolderPath that ends at the folder itself (…\Temp) match "\Temp\".
  const path = `${folderPath.replace(/\//g, "\\")}\\`.toLowerCase();
  return USER_WRITABLE_FOLDERS.filter((_, i) => path.includes(LOWER_CASE_FOLDERS[i]));
}

/** Whether the event's file is in a user-writable or temporary folder (one of the markers). */
export function inUserWritableFolder(event: DetectionEvent): boolean {
  return userWritableMarkers(columnValue(event, "FolderPath")).length > 0;
}

/** Whether a hit carries an aggravating signal (renamed binary or user-writable folder). */
function isAggravating(hit: EnrichedHit): boolean {
  return hit.renamedBinary || inUserWritableFolder(hit.event);
}

function listNames(names: string[], max = 3): string {
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

function elevatedReason(hits: readonly EnrichedHit[]): string {
  const total = hits.length;
  const renamed = hits.filter((hit) => hit.renamedBinary).length;
  const markers = hits.map((hit) => userWritableMarkers(columnValue(hit.event, "FolderPath")));
  const inWritable = markers.filter((m) => m.length > 0).length;
  const found = USER_WRITABLE_FOLDERS.filter((marker) => markers.some((m) => m.includes(marker)));
  const parts: string[] = [];
  if (renamed > 0) {
    parts.push(
      `${renamed} of ${total} events show a known nbtscan hash under another file name (renamed binary)`,
    );
  }
  if (inWritable > 0) {
    parts.push(
      `${inWritable} of ${total} events have the binary in a user-writable or temporary folder (${found.join(" ")})`,
    );
  }
  const benign = hits.some((hit) => hit.benign.length > 0)
    ? "; possible benign explanations do not lower it, because their text is attacker-controllable"
    : "";
  return `${parts.join("; ")}${benign}.`;
}

/** Applies the documented severity rule to an incident's hits under a deployment's policy; pure. */
export function severityOf(
  hits: readonly EnrichedHit[],
  policy: SeverityPolicy = DEFAULT_SEVERITY_POLICY,
): SeverityAssessment {
  if (hits.some(isAggravating)) {
    return { severity: policy.elevated, reason: elevatedReason(hits) };
  }
  if (hits.length > 0 && hits.every((hit) => hit.benign.length > 0)) {
    const scenarios = [...new Set(hits.flatMap((hit) => hit.benign.map((b) => b.scenario)))];
    return {
      severity: policy.benign,
      reason:
        `Every event (${hits.length}) fits a possible benign scenario ` +
        `(${listNames(scenarios)}) and none shows a renamed binary or a user-writable folder; ` +
        "verify the benign explanation before closing.",
    };
  }
  const unexplained = hits.filter((hit) => hit.benign.length === 0).length;
  const detail =
    hits.length === 0
      ? "no events"
      : unexplained === hits.length
        ? "no benign scenario fits"
        : `${unexplained} of ${hits.length} events fit no benign scenario`;
  return {
    severity: policy.default,
    reason: `nbtscan activity with no renamed binary or user-writable folder; ${detail}.`,
  };
}
