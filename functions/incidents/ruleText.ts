// The words of an incident for a rule without nbtscan's project metadata: everything comes from
// its Sentinel YAML (name, description, alertDisplayNameFormat, tactics, techniques) and from the
// columns its entity mappings and custom details name. Same limits and escaping as
// description.ts: every event value goes through markdown.ts with a length cap, and tables are
// filled with whole lines only.
import { mappedColumns, type AttackRef } from "../detection/rule";
import type { EnrichedHit } from "../model";
import { rowValue } from "../triage/columns";
import type { IncidentText, IncidentTextInput } from "./description";
import { DESCRIPTION_LIMIT, EVIDENCE_COMMENT_LIMIT, TITLE_LIMIT } from "./limits";
import { ELLIPSIS, escapeMarkdown, markdownLink, plainText } from "./markdown";

/** Columns every evidence row shows before the rule's own. */
const FIXED_COLUMNS = ["Timestamp", "DeviceName", "SourceTable", "ActionType"];
/** How many of the rule's mapped columns the description's table shows (the comment shows all). */
const DESCRIPTION_RULE_COLUMNS = 4;
// Sentinel's alertDisplayNameFormat placeholders: {{ColumnName}} (customize-alert-details).
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function byTime(hits: readonly EnrichedHit[]): EnrichedHit[] {
  return [...hits].sort((a, b) => Date.parse(a.event.Timestamp) - Date.parse(b.event.Timestamp));
}

function plural(n: number, one: string): string {
  return `${n} ${n === 1 ? one : `${one}s`}`;
}

/** The longest prefix of whole lines that fits in `budget`, and a note for the rest. */
function fitLines(lines: readonly string[], budget: number, note: (n: number) => string): string {
  let used = 0;
  let n = 0;
  for (const line of lines) {
    if (used + line.length + 1 > budget - 120) break; // 120: room for the note
    used += line.length + 1;
    n += 1;
  }
  const kept = lines.slice(0, n);
  return (n < lines.length ? [...kept, note(lines.length - n)] : kept).join("\n");
}

function table(columns: readonly string[], rows: readonly string[][]): string[] {
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c) => c || "\\-").join(" | ")} |`;
  return [line(columns), `|${columns.map(() => " --- |").join("")}`, ...rows.map(line)];
}

/** The title: the rule's alertDisplayNameFormat over the first event, or its name and device. */
function renderTitle(input: IncidentTextInput, sorted: readonly EnrichedHit[]): string {
  const { rule } = input;
  const first = sorted[0].event;
  const format = rule.loaded.alertDetailsOverride?.alertDisplayNameFormat;
  const base = format
    ? format.replace(PLACEHOLDER, (_, column: string) => plainText(rowValue(first, column), 80))
    : `${rule.name.slice(0, 120)} on ${plainText(first.DeviceName, 80)}`;
  const title = sorted.length > 1 ? `${base} (${plural(sorted.length, "event")})` : base;
  const chars = Array.from(title);
  return chars.length <= TITLE_LIMIT ? title : chars.slice(0, TITLE_LIMIT - 1).join("") + ELLIPSIS;
}

function attackLink(ref: AttackRef): string {
  return markdownLink(`${ref.id}${ref.name === ref.id ? "" : ` ${ref.name}`}`, ref.url, 80);
}

function cells(hit: EnrichedHit, columns: readonly string[], cap: number): string[] {
  return columns.map((c) => escapeMarkdown(rowValue(hit.event, c).trim(), cap));
}

function renderDescription(input: IncidentTextInput, sorted: readonly EnrichedHit[]): string {
  const { rule } = input;
  const ruleColumns = mappedColumns(rule.loaded).filter((c) => !FIXED_COLUMNS.includes(c));
  const columns = [...FIXED_COLUMNS, ...ruleColumns.slice(0, DESCRIPTION_RULE_COLUMNS)];
  const header = `**Severity: ${input.severity}.** ${escapeMarkdown(input.severityReason, 400)}`;
  const about = escapeMarkdown(rule.description.trim(), 1500);
  const attack = [
    "### MITRE ATT&CK",
    `- Tactics: ${rule.tactics.map(attackLink).join(", ")}`,
    `- Techniques: ${rule.relevantTechniques.slice(0, 8).map(attackLink).join(", ")}`,
  ].join("\n");
  const fixed = [header, about, attack].join("\n\n").length + 40;
  const [head, rule_, ...rows] = table(
    columns,
    sorted.map((h) => cells(h, columns, 120)),
  );
  const body = fitLines(
    rows,
    DESCRIPTION_LIMIT - fixed - head.length - rule_.length,
    (n) => `\n_${plural(n, "more event")} in the evidence comment._`,
  );
  const evidence = ["### Evidence", head, rule_, body].join("\n");
  return [header, about, evidence, attack].join("\n\n");
}

function renderEvidenceComment(input: IncidentTextInput, sorted: readonly EnrichedHit[]): string {
  const { rule } = input;
  const details = Object.entries(rule.loaded.customDetails);
  const ruleColumns = mappedColumns(rule.loaded).filter((c) => !FIXED_COLUMNS.includes(c));
  const columns = ["#", ...FIXED_COLUMNS, ...ruleColumns, "ReportId"];
  const heading =
    `### Evidence: ${plural(sorted.length, "event")}\n` +
    `Detection: ${escapeMarkdown(rule.name, 120)} ${escapeMarkdown(rule.version, 20)}. ` +
    (details.length > 0
      ? `Custom details: ${details.map(([k, c]) => `${escapeMarkdown(k, 40)} = ${escapeMarkdown(c, 40)}`).join(", ")}. `
      : "") +
    "Every value is escaped and links are defanged ([:]// and www[.]).";
  const [head, rule_, ...rows] = table(
    columns,
    sorted.map((h, i) => [String(i + 1), ...cells(h, columns.slice(1), 500)]),
  );
  const body = fitLines(
    rows,
    EVIDENCE_COMMENT_LIMIT - heading.length - head.length - rule_.length - 10,
    (n) => `\n_${plural(n, "more event")} not shown (comment limit)._`,
  );
  return [heading, [head, rule_, body].join("\n")].join("\n\n");
}

/** The incident text of a rule without project metadata, from its YAML and mapped columns; pure. */
export function renderRuleText(input: IncidentTextInput): IncidentText {
  const sorted = byTime(input.hits);
  return {
    title: renderTitle(input, sorted),
    description: renderDescription(input, sorted),
    evidenceComment: renderEvidenceComment(input, sorted),
  };
}
