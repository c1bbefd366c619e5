// The words a responder reads: the incident title, the Markdown description (Sentinel's limit is
// 5,000 characters) and the evidence comment (30,000). Every event value goes through
// markdown.ts; limits hold by construction: each value has a length cap, each section a budget
// filled with whole lines, and the evidence table takes what is left, so nothing is ever cut in
// the middle of Markdown syntax.
import {
  hasProjectMetadata,
  type AttackRef,
  type DetectionRule,
  type NbtscanRule,
} from "../detection/rule";
import type { DetectionEvent, EnrichedHit, EventColumn, Severity } from "../model";
import { columnValue } from "../triage/columns";
import { inUserWritableFolder } from "../triage/severity";
import { ELLIPSIS, escapeMarkdown, markdownLink, plainText } from "./markdown";
import { renderRuleText } from "./ruleText";

import { DESCRIPTION_LIMIT, EVIDENCE_COMMENT_LIMIT, TITLE_LIMIT } from "./limits";

export { DESCRIPTION_LIMIT, EVIDENCE_COMMENT_LIMIT, TITLE_LIMIT };

/** What a benign scenario says to responders (BenignScenario fits this). */
export interface ScenarioText {
  name: string;
  title: string;
  description: string;
}

/** One incident's hits and what was decided about them. */
export interface IncidentTextInput {
  hits: readonly EnrichedHit[];
  severity: Severity;
  severityReason: string;
  rule: DetectionRule;
  /** The grouping (INCIDENT_GROUPING: device, run or event) or a label for it. */
  grouping: string;
  /** The benign scenarios, so their advice can be shown; without them only titles are. */
  scenarios?: readonly ScenarioText[];
}

/** nbtscan's input: a rule with its project metadata (file name, hashes, software, campaign). */
type NbtscanInput = IncidentTextInput & { rule: NbtscanRule };

/** The incident's title, description and evidence comment. */
export interface IncidentText {
  title: string;
  description: string;
  evidenceComment: string;
}

const GROUPING_LABELS = new Map([
  ["device", "one incident per device per run"],
  ["run", "one incident per run"],
  ["event", "one incident per event"],
]);

const PROCESS_TABLE = "DeviceProcessEvents";

// ---------------------------------------------------------------------------------------------
// Small helpers

function value(event: DetectionEvent, column: EventColumn): string {
  return columnValue(event, column).trim();
}

function accountOf(event: DetectionEvent): string {
  const domain = value(event, "InitiatingProcessAccountDomain");
  const name = value(event, "InitiatingProcessAccountName");
  if (!name) return domain ? `${domain}\\(unknown)` : "";
  return domain ? `${domain}\\${name}` : name;
}

/** Distinct non-empty values, first spelling kept, compared ignoring case. */
function distinct(values: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const v of values) if (v && !seen.has(v.toLowerCase())) seen.set(v.toLowerCase(), v);
  return [...seen.values()];
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** An escaped, bold list of at most `max` values, each capped, with "and N more <noun>". */
function boldList(values: readonly string[], max: number, cap: number, noun: string): string {
  if (values.length === 0) return `an unknown ${noun}`;
  const shown = values.slice(0, max).map((v) => `**${escapeMarkdown(v, cap)}**`);
  const more = values.length > max ? ` and ${plural(values.length - max, `more ${noun}`)}` : "";
  return `${shown.join(", ")}${more}`;
}

function plainList(values: readonly string[], max: number, cap: number): string {
  const shown = values.slice(0, max).map((v) => escapeMarkdown(v, cap));
  return values.length > max
    ? `${shown.join(", ")} and ${values.length - max} more`
    : shown.join(", ");
}

/** ISO-8601 time as "2026-11-25 08:00:00Z" (escaped like any value), or the raw text escaped. */
function timeText(raw: string): string {
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) return escapeMarkdown(raw, 30);
  return escapeMarkdown(`${new Date(ms).toISOString().slice(0, 19).replace("T", " ")}Z`);
}

function byTime(hits: readonly EnrichedHit[]): EnrichedHit[] {
  const at = (hit: EnrichedHit): number => Date.parse(hit.event.Timestamp) || 0;
  return [...hits].sort((a, b) => at(a) - at(b));
}

/** The longest prefix of whole lines that fits in `budget` (joined by "\n"), plus a note for the rest. */
function fitLines(
  lines: readonly string[],
  budget: number,
  note: (omitted: number) => string = () => "",
): string {
  // prefix[n]: length of the first n lines joined by "\n".
  const prefix = [0];
  for (const [i, line] of lines.entries()) prefix.push(prefix[i] + line.length + (i > 0 ? 1 : 0));
  for (let n = lines.length; n >= 0; n--) {
    const tail = n < lines.length ? note(lines.length - n) : "";
    const length = prefix[n] + (tail ? tail.length + (n > 0 ? 1 : 0) : 0);
    if (length <= budget) return [...lines.slice(0, n), ...(tail ? [tail] : [])].join("\n");
  }
  return "";
}

function joinSections(sections: readonly string[]): string {
  return sections.filter((s) => s.length > 0).join("\n\n");
}

function groupingLabel(grouping: string): string {
  return GROUPING_LABELS.get(grouping) ?? escapeMarkdown(grouping, 60);
}

// ---------------------------------------------------------------------------------------------
// Title

/** "nbtscan network discovery on HOST by ACCOUNT", plain text, at most 255 characters. */
function renderTitle(hits: readonly EnrichedHit[]): string {
  const ran = hits.some((h) => h.event.SourceTable === PROCESS_TABLE);
  const devices = distinct(hits.map((h) => value(h.event, "DeviceName")));
  const accounts = distinct(hits.map((h) => accountOf(h.event)));
  const who = (names: string[], noun: string): string => {
    if (names.length === 0) return `an unknown ${noun}`;
    const first = plainText(names[0], 80) || `an unnamed ${noun}`;
    return names.length > 1 ? `${first} and ${plural(names.length - 1, `more ${noun}`)}` : first;
  };
  const what = ran ? "nbtscan network discovery" : "nbtscan written to disk";
  const renamed = hits.some((h) => h.renamedBinary) ? " (renamed binary)" : "";
  const title = `${what} on ${who(devices, "device")} by ${who(accounts, "account")}${renamed}`;
  const chars = Array.from(title);
  return chars.length <= TITLE_LIMIT ? title : chars.slice(0, TITLE_LIMIT - 1).join("") + ELLIPSIS;
}

// ---------------------------------------------------------------------------------------------
// Description sections (each with its own budget)

function headerSection(input: NbtscanInput): string {
  return `**Severity: ${input.severity}.** ${escapeMarkdown(input.severityReason, 400)}`;
}

function matchSentence(hits: readonly EnrichedHit[], rule: NbtscanRule): string {
  const renamed = hits.filter((h) => h.renamedBinary || h.matchedBy === "hash");
  const both = hits.filter((h) => h.matchedBy === "name+hash").length;
  const byName = hits.filter((h) => h.matchedBy === "name").length;
  const parts: string[] = [];
  if (byName + both > 0) {
    const hash = both > 0 ? ` (${both} also by a known SHA-1)` : "";
    parts.push(
      `${plural(byName + both, "event")} by file name ${escapeMarkdown(rule.detectedFileName, 40)}${hash}`,
    );
  }
  if (renamed.length > 0) {
    const names = distinct(renamed.map((h) => value(h.event, "FileName")));
    parts.push(
      `${plural(renamed.length, "event")} by known nbtscan SHA-1 only: a **renamed binary**, ` +
        `running as ${boldList(names, 3, 40, "name")}`,
    );
  }
  return `Matched ${parts.join("; ")}.`;
}

function summarySection(input: NbtscanInput, sorted: readonly EnrichedHit[]): string {
  const { hits, rule } = input;
  // In a process event the initiating process started nbtscan; in a file event it wrote the file.
  const started = hits.filter((h) => h.event.SourceTable === PROCESS_TABLE);
  const written = hits.filter((h) => h.event.SourceTable !== PROCESS_TABLE);
  const verb =
    started.length > 0 && written.length > 0
      ? "ran and was written to disk"
      : started.length > 0
        ? "ran"
        : "was written to disk";
  const counts = [
    started.length > 0 ? plural(started.length, "process start") : "",
    written.length > 0 ? plural(written.length, "file event") : "",
  ].filter(Boolean);
  const devices = distinct(hits.map((h) => value(h.event, "DeviceName")));
  const accounts = distinct(hits.map((h) => accountOf(h.event)));
  const first = timeText(sorted[0].event.Timestamp);
  const last = timeText(sorted[sorted.length - 1].event.Timestamp);
  const span = first === last ? `at ${first}` : `between ${first} and ${last}`;
  const folders = distinct(hits.map((h) => value(h.event, "FolderPath")));
  // The same test as the severity rule, so the summary never disagrees with the severity.
  const writable = hits.some((h) => inUserWritableFolder(h.event));
  const parents = distinct(started.map((h) => value(h.event, "InitiatingProcessFileName")));
  const grandparents = distinct(
    started.map((h) => value(h.event, "InitiatingProcessParentFileName")),
  );
  const writers = distinct(written.map((h) => value(h.event, "InitiatingProcessFileName")));

  const sentences = [
    `nbtscan (${escapeMarkdown(rule.software.id, 10)}, a NetBIOS network scanner) ${verb} on ` +
      `${boldList(devices, 3, 50, "device")} as ${boldList(accounts, 3, 50, "account")}: ` +
      `${counts.join(" and ")} ${span}.`,
    matchSentence(hits, rule),
    folders.length > 0
      ? `From ${plainList(folders, 2, 100)}` +
        (writable ? " (a **user-writable or temporary folder**)." : ".")
      : "",
    parents.length > 0
      ? `Started by ${plainList(parents, 2, 40)}` +
        (grandparents.length > 0 ? `, itself started by ${plainList(grandparents, 2, 40)}.` : ".")
      : "",
    writers.length > 0 ? `Written to disk by ${plainList(writers, 2, 40)}.` : "",
    `Grouping: ${groupingLabel(input.grouping)}.`,
  ];
  return sentences.filter(Boolean).join(" ");
}

const TABLE_COLUMNS = ["Time (UTC)", "Table", "Action", "Folder", "Command line", "Parent"];

function tableHeader(columns: readonly string[]): string[] {
  return [`| ${columns.join(" | ")} |`, `|${columns.map(() => " --- |").join("")}`];
}

function row(cells: readonly string[]): string {
  // Empty cells get a dash so no row has "||", which some renderers mis-split.
  return `| ${cells.map((c) => c || "\\-").join(" | ")} |`;
}

function descriptionRow(hit: EnrichedHit, withDevice: boolean): string {
  const e = hit.event;
  const cells = [
    timeText(e.Timestamp),
    escapeMarkdown(value(e, "SourceTable"), 20),
    escapeMarkdown(value(e, "ActionType"), 30),
    escapeMarkdown(value(e, "FolderPath"), 80),
    escapeMarkdown(value(e, "ProcessCommandLine"), 160),
    escapeMarkdown(value(e, "InitiatingProcessFileName"), 40),
  ];
  if (withDevice) cells.splice(1, 0, escapeMarkdown(value(e, "DeviceName"), 40));
  return row(cells);
}

function evidenceSection(sorted: readonly EnrichedHit[], budget: number): string {
  const withDevice = distinct(sorted.map((h) => value(h.event, "DeviceName"))).length > 1;
  const columns = withDevice
    ? [TABLE_COLUMNS[0], "Device", ...TABLE_COLUMNS.slice(1)]
    : TABLE_COLUMNS;
  const heading = "### Evidence";
  const header = tableHeader(columns);
  const fixed = heading.length + 1 + header.join("\n").length + 1;
  const rows = sorted.map((hit) => descriptionRow(hit, withDevice));
  const note = (omitted: number): string =>
    `\n_${plural(omitted, "more event")} in the evidence comment._`;
  // The note is a paragraph of its own (blank line), so it cannot become a table row.
  const body = fitLines(rows, budget - fixed, note);
  const shown = body.split("\n").filter((l) => l.startsWith("|")).length;
  if (shown === 0) {
    return `${heading}\n_${plural(rows.length, "event")} in the evidence comment._`;
  }
  return `${heading}\n${header.join("\n")}\n${body}`;
}

function attackLink(ref: AttackRef): string {
  return markdownLink(`${ref.id} ${ref.name}`, ref.url, 80);
}

function attackSection(rule: NbtscanRule): string {
  const lines = [
    "### MITRE ATT&CK",
    `- Tactic: ${rule.tactics.map(attackLink).join(", ")}`,
    `- Techniques: ${rule.relevantTechniques.slice(0, 8).map(attackLink).join(", ")}`,
    `- Software: ${attackLink(rule.software)}`,
    `- Campaign: ${escapeMarkdown(rule.campaign.name, 60)}, ${attackLink(rule.campaign.group)}`,
  ];
  return fitLines(lines, 900);
}

interface ScenarioSummary {
  name: string;
  title: string;
  events: number;
  fields: string[];
}

function scenarioSummaries(hits: readonly EnrichedHit[]): ScenarioSummary[] {
  const byName = new Map<string, ScenarioSummary>();
  for (const hit of hits) {
    for (const match of hit.benign) {
      const summary = byName.get(match.scenario) ?? {
        name: match.scenario,
        title: match.title,
        events: 0,
        fields: [],
      };
      summary.events += 1;
      summary.fields = distinct([...summary.fields, ...match.matchedFields]);
      byName.set(match.scenario, summary);
    }
  }
  return [...byName.values()];
}

function benignSection(input: NbtscanInput): string {
  const { hits } = input;
  const summaries = scenarioSummaries(hits);
  const heading = "### Possible benign explanations";
  if (summaries.length === 0) {
    return `${heading}\nNo known benign scenario fits: treat the activity as unexplained until verified.`;
  }
  const advice = new Map((input.scenarios ?? []).map((s) => [s.name, s.description]));
  const lines = summaries.map((s) => {
    const text = advice.get(s.name);
    return (
      `- Possible benign explanation — verify: **${escapeMarkdown(s.title, 100)}** ` +
      `(${s.events} of ${hits.length} events; matched ${plainList(s.fields, 6, 40)})` +
      (text ? `. ${escapeMarkdown(text, 400)}` : "")
    );
  });
  const unexplained = hits.filter((h) => h.benign.length === 0).length;
  const footer =
    unexplained > 0
      ? `${unexplained} of ${plural(hits.length, "event")} ${unexplained === 1 ? "fits" : "fit"} no benign scenario.`
      : "These are hypotheses to verify, not a verdict: command lines are attacker-controlled.";
  const list = fitLines(
    lines,
    1000,
    (n) => `- ${plural(n, "more scenario")} in the events' benignScenarios.`,
  );
  return `${heading}\n${list}\n\n${footer}`;
}

function nextStepsSection(sorted: readonly EnrichedHit[]): string {
  const host = escapeMarkdown(value(sorted[0].event, "DeviceName") || "the device", 50);
  const account = escapeMarkdown(accountOf(sorted[0].event) || "the account", 50);
  const processEvent = sorted.find((h) => h.event.SourceTable === PROCESS_TABLE)?.event;
  const parent = escapeMarkdown(
    value(processEvent ?? sorted[0].event, "InitiatingProcessFileName") || "the parent",
    40,
  );
  const parentVerb = processEvent ? "start" : "write";
  return [
    "### Next steps",
    `1. **Other discovery on ${host}** in the same time frame (an hour either side): net.exe/net1.exe ` +
      "(net view, net group /domain), nltest, AdFind, dsquery, ping or ARP sweeps, other scanners.",
    "2. **Lateral movement from the host after the event**: logons to other hosts, RDP (3389), " +
      "SMB (445, admin shares), PsExec (PSEXESVC), WMI (wmic /node, WmiPrvSE children), WinRM.",
    `3. **The parent process tree**: how ${parent} came to ${parentVerb} nbtscan: interactive session, ` +
      "script, scheduled task, remote tool or web shell?",
    `4. **The account ${account}**: who owns it, should it run network scanners, where has it ` +
      "logged on from recently?",
    "5. **The file**: is it signed, and where did it come from (DeviceFileEvents FileOriginUrl, " +
      "FileOriginReferrerUrl)? How many devices have its SHA-1?",
    "",
    "_Hunting queries for these steps are in the evidence comment._",
  ].join("\n");
}

function renderDescription(input: NbtscanInput, sorted: readonly EnrichedHit[]): string {
  // Every section but the evidence table is bounded by its caps; the table gets the rest.
  const before = [headerSection(input), summarySection(input, sorted)];
  const after = [attackSection(input.rule), benignSection(input), nextStepsSection(sorted)];
  const rest = joinSections([...before, ...after]).length + 2; // + the table's "\n\n"
  const evidence = evidenceSection(sorted, DESCRIPTION_LIMIT - rest);
  const description = joinSections([...before, evidence, ...after]);
  // The section caps keep this unreachable; if a future edit breaks them, degrade, never exceed.
  return description.length <= DESCRIPTION_LIMIT
    ? description
    : joinSections([
        headerSection(input),
        `_The description did not fit; see the evidence comment for ${plural(sorted.length, "event")}._`,
      ]);
}

// ---------------------------------------------------------------------------------------------
// Evidence comment

const COMMENT_COLUMNS = [
  "#",
  "Time (UTC)",
  "Device",
  "Account",
  "Table",
  "Action",
  "Matched by",
  "File name",
  "Folder",
  "Command line",
  "Parent",
  "Parent command line",
  "Grandparent",
  "SHA1",
  "ReportId",
  "Possible benign",
];

function commentRow(hit: EnrichedHit, index: number): string {
  const e = hit.event;
  return row([
    String(index + 1),
    timeText(e.Timestamp),
    escapeMarkdown(value(e, "DeviceName"), 100),
    escapeMarkdown(accountOf(e), 100),
    escapeMarkdown(value(e, "SourceTable"), 20),
    escapeMarkdown(value(e, "ActionType"), 40),
    escapeMarkdown(hit.matchedBy + (hit.renamedBinary ? ", renamed binary" : ""), 30),
    escapeMarkdown(value(e, "FileName"), 100),
    escapeMarkdown(value(e, "FolderPath"), 300),
    escapeMarkdown(value(e, "ProcessCommandLine"), 2000),
    escapeMarkdown(value(e, "InitiatingProcessFileName"), 100),
    escapeMarkdown(value(e, "InitiatingProcessCommandLine"), 1000),
    escapeMarkdown(value(e, "InitiatingProcessParentFileName"), 100),
    escapeMarkdown(value(e, "SHA1"), 64),
    escapeMarkdown(value(e, "ReportId"), 40),
    escapeMarkdown(hit.benign.map((b) => b.scenario).join(", "), 200),
  ]);
}

// Only values of a known, inert shape go into KQL: device ids, SHA-1s and parsed times.
const SAFE_ID = /^[A-Za-z0-9-]{1,64}$/;
const SHA1 = /^[0-9a-f]{40}$/i;

function kqlList(values: readonly string[]): string {
  return `dynamic([${values.map((v) => `"${v}"`).join(", ")}])`;
}

function kqlTime(ms: number): string {
  return `datetime(${new Date(ms).toISOString()})`;
}

function huntingSection(sorted: readonly EnrichedHit[], rule: NbtscanRule): string {
  const devices = distinct(
    sorted.map((h) => value(h.event, "DeviceId")).filter((id) => SAFE_ID.test(id)),
  );
  const hashes = distinct(
    [...rule.knownHashes.sha1, ...sorted.map((h) => value(h.event, "SHA1"))].filter((h) =>
      SHA1.test(h),
    ),
  ).map((h) => h.toLowerCase());
  const times = sorted.map((h) => Date.parse(h.event.Timestamp)).filter((t) => !Number.isNaN(t));
  const window =
    times.length > 0
      ? `let start = ${kqlTime(times.reduce((a, b) => Math.min(a, b)))} - 1h; let end = ${kqlTime(times.reduce((a, b) => Math.max(a, b)))} + 1h;`
      : "let start = ago(1d); let end = now(); // the events' times did not parse";
  const scope =
    `let devices = ${kqlList(devices.slice(0, 10))}; let hashes = ${kqlList(hashes.slice(0, 10))};\n` +
    window;
  const query = (title: string, body: string): string =>
    `${title}\n\n\`\`\`kusto\n${scope}\n${body}\n\`\`\``;
  return [
    "### Hunting queries",
    "_Scope: this incident's devices (DeviceId) and an hour either side of its events._",
    query(
      "**Other discovery tools on the devices**",
      "DeviceProcessEvents\n| where Timestamp between (start .. end) and DeviceId in (devices)\n" +
        '| where FileName in~ ("net.exe", "net1.exe", "nltest.exe", "adfind.exe", "dsquery.exe", ' +
        '"ping.exe", "arp.exe", "nbtstat.exe", "ipconfig.exe", "whoami.exe", "quser.exe", ' +
        '"netstat.exe", "nslookup.exe", "systeminfo.exe")\n' +
        '    or ProcessCommandLine has_any ("net view", "net group", "/domain", "Get-ADComputer")\n' +
        "| project Timestamp, DeviceName, AccountName, FileName, ProcessCommandLine, " +
        "InitiatingProcessFileName\n| order by Timestamp asc",
    ),
    query(
      "**Lateral movement from the devices after the event**",
      "DeviceNetworkEvents\n| where Timestamp between (start .. end + 1d) and DeviceId in (devices)\n" +
        "| where RemotePort in (135, 445, 3389, 5985, 5986)\n" +
        "| summarize Connections = count(), Targets = make_set(RemoteIP, 50), First = min(Timestamp)\n" +
        "    by InitiatingProcessFileName, RemotePort\n\n" +
        "DeviceProcessEvents\n| where Timestamp between (start .. end + 1d) and DeviceId in (devices)\n" +
        '| where FileName in~ ("psexec.exe", "psexec64.exe", "paexec.exe", "wmic.exe", "mstsc.exe", ' +
        '"winrs.exe") or ProcessCommandLine has_any ("/node:", "Invoke-Command", "Enter-PSSession")\n' +
        "| project Timestamp, DeviceName, AccountName, FileName, ProcessCommandLine",
    ),
    query(
      "**Parent process tree and account**",
      "DeviceProcessEvents\n| where Timestamp between (start .. end) and DeviceId in (devices)\n" +
        '| where SHA1 in (hashes) or FileName =~ "nbtscan.exe"\n' +
        "| project Timestamp, DeviceName, AccountDomain, AccountName, ProcessCommandLine,\n" +
        "    InitiatingProcessFileName, InitiatingProcessCommandLine, InitiatingProcessParentFileName,\n" +
        "    InitiatingProcessParentCreationTime, InitiatingProcessLogonId\n\n" +
        "DeviceLogonEvents\n| where Timestamp between (start - 7d .. end) and DeviceId in (devices)\n" +
        '| where ActionType == "LogonSuccess"\n' +
        "| summarize Logons = count(), Types = make_set(LogonType), From = make_set(RemoteIP, 20)\n" +
        "    by AccountDomain, AccountName",
    ),
    query(
      "**Where the file came from, its signature and prevalence**",
      "DeviceFileEvents\n| where Timestamp between (start - 30d .. end)\n" +
        '| where SHA1 in (hashes) or (DeviceId in (devices) and FileName =~ "nbtscan.exe")\n' +
        "| project Timestamp, DeviceName, ActionType, FolderPath, FileName, FileOriginUrl,\n" +
        "    FileOriginReferrerUrl, FileOriginIP, InitiatingProcessFileName\n\n" +
        "DeviceFileCertificateInfo\n| where SHA1 in (hashes)\n" +
        "| project SHA1, IsSigned, Signer, Issuer, IsTrusted\n\n" +
        "DeviceProcessEvents\n| where Timestamp > ago(30d) and SHA1 in (hashes)\n" +
        "| summarize Devices = dcount(DeviceId), First = min(Timestamp) by SHA1",
    ),
  ].join("\n\n");
}

function referencesSection(rule: NbtscanRule): string {
  const lines = [
    "### References",
    ...rule.references.map((ref) => `- ${markdownLink(ref.title, ref.url, 150)}`),
  ];
  return fitLines(lines, 3000, (n) => `- ${plural(n, "more reference")} in the rule metadata.`);
}

function renderEvidenceComment(input: NbtscanInput, sorted: readonly EnrichedHit[]): string {
  const { rule } = input;
  const heading =
    `### nbtscan evidence: ${plural(sorted.length, "event")}\n` +
    `Detection: ${escapeMarkdown(rule.name, 120)} ${escapeMarkdown(rule.version, 20)}. ` +
    `Grouping: ${groupingLabel(input.grouping)}. ` +
    "Every value is escaped and links are defanged ([:]// and www[.]).";
  const after = [huntingSection(sorted, rule), referencesSection(rule)];
  const header = tableHeader(COMMENT_COLUMNS).join("\n");
  const fixed = joinSections([heading, ...after]).length + 2 + header.length + 1;
  const note = (omitted: number): string =>
    `\n_${plural(omitted, "more event")} not shown (comment limit); the hunting queries find them._`;
  const rows = fitLines(sorted.map(commentRow), EVIDENCE_COMMENT_LIMIT - fixed, note);
  const table = rows.startsWith("|") ? `${header}\n${rows}` : rows.trim();
  const comment = joinSections([heading, table, ...after]);
  return comment.length <= EVIDENCE_COMMENT_LIMIT
    ? comment
    : joinSections([heading, "_The evidence did not fit in a comment._"]);
}

// ---------------------------------------------------------------------------------------------

/** Renders the incident's title, description (≤ 5,000) and evidence comment (≤ 30,000); pure. */
export function renderIncidentText(input: IncidentTextInput): IncidentText {
  if (input.hits.length === 0)
    throw new Error("renderIncidentText: an incident needs at least one hit");
  const { rule } = input;
  // A rule without nbtscan's metadata gets the plain text its YAML supports (ruleText.ts).
  if (!hasProjectMetadata(rule)) return renderRuleText(input);
  const nbtscan: NbtscanInput = { ...input, rule };
  const sorted = byTime(input.hits);
  return {
    title: renderTitle(input.hits),
    description: renderDescription(nbtscan, sorted),
    evidenceComment: renderEvidenceComment(nbtscan, sorted),
  };
}
