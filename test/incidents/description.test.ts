import { loadDetectionRule } from "../../functions/detection/rule";
import {
  DESCRIPTION_LIMIT,
  EVIDENCE_COMMENT_LIMIT,
  TITLE_LIMIT,
  renderIncidentText,
  type IncidentTextInput,
} from "../../functions/incidents/description";
import {
  ELLIPSIS,
  escapeMarkdown,
  markdownLink,
  plainText,
} from "../../functions/incidents/markdown";
import type { DetectionEvent, EnrichedHit } from "../../functions/model";
import { annotateBenign, loadBenignScenarios } from "../../functions/triage/scenarios";
import { severityOf } from "../../functions/triage/severity";
import {
  HOSTILE_STRINGS,
  KNOWN_SHA1,
  benignMatch,
  makeEvent,
  makeFileEvent,
  makeHit,
} from "../support/events";

const rule = loadDetectionRule();
const scenarios = loadBenignScenarios();

// ---------------------------------------------------------------------------------------------
// Checkers, written independently of the escaper

const PUNCTUATION = "\\`*_{}[]()#+-.!|~^$=";

/** Problems with a string that should be inert escaped Markdown, or [] if it is. */
function escapingProblems(text: string): string[] {
  const problems: string[] = [];
  if (/[\r\n\u2028\u2029\u0085\v\f]/.test(text)) problems.push("line break");
  if (/[<>]/.test(text)) problems.push("raw < or >");
  if (/&(?!(amp|lt|gt);)/.test(text)) problems.push("bare &");
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\") {
      if (!PUNCTUATION.includes(text[i + 1] ?? "")) problems.push(`dangling \\ at ${i}`);
      i += 1;
    } else if (PUNCTUATION.includes(text[i])) {
      problems.push(`unescaped ${text[i]} at ${i}`);
    }
  }
  const plain = unescape(text);
  if (plain.includes("://")) problems.push("://");
  if (/www\./i.test(plain)) problems.push("www.");
  if (/(^|[^[])@/.test(plain)) problems.push("@");
  if (/(javascript|vbscript|data|mailto):/i.test(plain)) problems.push("scheme");
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(^|[^\ud800-\udbff])[\udc00-\udfff]/.test(text)) {
    problems.push("lone surrogate");
  }
  return problems;
}

/** What an escaped string reads as once rendered. */
function unescape(text: string): string {
  return text
    .replace(/\\(.)/g, "$1")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** The cells of a GFM table row: split on pipes not escaped by a backslash. */
function cellsOf(line: string): string[] {
  expect(line.startsWith("| ")).toBe(true);
  expect(line.endsWith(" |")).toBe(true);
  const cells: string[] = [];
  let cell = "";
  for (let i = 1; i < line.length; i++) {
    if (line[i] === "\\") {
      cell += line.slice(i, i + 2);
      i += 1;
    } else if (line[i] === "|") {
      cells.push(cell.trim());
      cell = "";
    } else {
      cell += line[i];
    }
  }
  return cells;
}

/** Every table in the text: its header cells and its rows' cells. */
function tablesOf(markdown: string): { header: string[]; rows: string[][] }[] {
  const tables: { header: string[]; rows: string[][] }[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith("|") || !/^\|( --- \|)+$/.test(lines[i + 1] ?? "")) continue;
    const header = cellsOf(lines[i]);
    const rows: string[][] = [];
    for (i += 2; i < lines.length && lines[i].startsWith("|"); i++) rows.push(cellsOf(lines[i]));
    tables.push({ header, rows });
  }
  return tables;
}

/** The description with its trusted links removed, for checking what attackers could add. */
function withoutTrustedLinks(markdown: string): string {
  return markdown.replace(
    /(?<!\\)\]\((https:\/\/(attack\.mitre\.org|www\.cybereason\.com|unixwiz\.net|github\.com)\/[^)\s]*)\)/g,
    "]",
  );
}

// A deterministic pseudo-random source, so the fuzz cases are the same on every run.
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const PIECES = [
  "<",
  ">",
  "&",
  "&amp;",
  "&#106;",
  "\\",
  "`",
  "```",
  "*",
  "_",
  "[",
  "]",
  "(",
  ")",
  "#",
  "|",
  "~",
  "\n",
  "\r\n",
  "\u2028",
  "://",
  "http",
  "www.",
  "WWW.",
  "javascript:",
  "@",
  "😀",
  "\u202e",
  "\u200b",
  "\u0000",
  "\u0007",
  "\ud800",
  "a",
  " ",
  "\t",
  ".",
  "-",
  "!",
  "é",
  "漢",
  "C:\\Users\\",
];

function fuzzStrings(count: number, seed: number): string[] {
  const next = random(seed);
  return Array.from({ length: count }, () => {
    const length = Math.floor(next() * 30);
    return Array.from({ length }, () => PIECES[Math.floor(next() * PIECES.length)]).join("");
  });
}

// ---------------------------------------------------------------------------------------------

describe("escapeMarkdown", () => {
  it.each(HOSTILE_STRINGS.map((s) => [s.slice(0, 60), s]))("neutralises %j", (_label, hostile) => {
    expect(escapingProblems(escapeMarkdown(hostile))).toEqual([]);
  });

  it("neutralises fuzzed mixtures of hostile pieces, at any length limit", () => {
    const next = random(7);
    for (const text of fuzzStrings(400, 42)) {
      const max = 1 + Math.floor(next() * 80);
      const escaped = escapeMarkdown(text, max);
      expect({ text, problems: escapingProblems(escaped.replace(ELLIPSIS, "")) }).toEqual({
        text,
        problems: [],
      });
      expect(escaped.length).toBeLessThanOrEqual(max);
    }
  });

  it("keeps ordinary text readable: escapes render back to the original", () => {
    const text =
      "C:\\Program Files\\nbtscan.exe -r 10.0.0.0/24 | findstr *x* [a] (b) #c +d !e ~f ^g $h =i `j` _k_ {l} 漢字 😀";
    expect(unescape(escapeMarkdown(text))).toBe(text);
    expect(escapeMarkdown("ws-fin-07")).toBe("ws\\-fin\\-07");
  });

  it("turns HTML into entities, and entity text stays literal", () => {
    expect(escapeMarkdown("</td><script>alert(1)</script>")).toBe(
      "&lt;/td&gt;&lt;script&gt;alert\\(1\\)&lt;/script&gt;",
    );
    expect(unescape(escapeMarkdown("&lt;b&gt;"))).toBe("&lt;b&gt;");
  });

  it("defangs links and images so none renders", () => {
    expect(unescape(escapeMarkdown("[click](http://evil)"))).toBe("[click](http[:]//evil)");
    expect(unescape(escapeMarkdown("![x](https://evil/x.png)"))).toBe("![x](https[:]//evil/x.png)");
    expect(unescape(escapeMarkdown("see www.Evil.example"))).toBe("see www[.]Evil.example");
    expect(unescape(escapeMarkdown("javascript:alert(1) a@b.example"))).toBe(
      "javascript[:]alert(1) a[@]b.example",
    );
    expect(unescape(escapeMarkdown("C:\\x"))).toBe("C:\\x");
  });

  it("replaces line breaks, controls and invisible characters with visible marks", () => {
    expect(escapeMarkdown("a\r\nb\rc\nd\u2028e")).toBe("a⏎b⏎c⏎d⏎e");
    expect(escapeMarkdown("a\tb\u0000c")).toBe("a b\ufffdc");
    expect(escapeMarkdown("\u202egnp.exe")).toBe("⟨U\\+202E⟩gnp\\.exe");
  });

  it("truncates on whole tokens: never inside an escape, entity or surrogate pair", () => {
    expect(escapeMarkdown("abcdef", 4)).toBe("abc…");
    expect(escapeMarkdown("ab.cd", 4)).toBe("ab…");
    expect(escapeMarkdown("a<b", 4)).toBe("a…");
    // "a😀" is already 3 UTF-16 units, so the ellipsis only fits without the emoji; never half a pair.
    expect(escapeMarkdown("a😀b", 3)).toBe("a…");
    expect(escapeMarkdown("a😀bc", 4)).toBe("a😀…");
    expect(escapeMarkdown("abc", 3)).toBe("abc");
    expect(escapeMarkdown("x".repeat(40000), 100)).toHaveLength(100);
  });
});

describe("plainText and markdownLink", () => {
  it("make a plain-text value with no markup, links or line breaks", () => {
    for (const hostile of [...HOSTILE_STRINGS, ...fuzzStrings(200, 3)]) {
      const text = plainText(hostile, 80);
      expect(text.length).toBeLessThanOrEqual(80);
      expect(text).not.toMatch(/[<>\r\n()`*|]/);
      expect(text).not.toMatch(/:\/\/|www\.|javascript:/i);
    }
    expect(plainText("CONTOSO\\j.doe")).toBe("CONTOSO\\j.doe");
  });

  it("link only trusted https URLs", () => {
    expect(markdownLink("S0590 NBTscan", "https://attack.mitre.org/software/S0590/")).toBe(
      "[S0590 NBTscan](https://attack.mitre.org/software/S0590/)",
    );
    const bad = markdownLink("x", "javascript:alert(1)");
    expect(bad).not.toMatch(/\]\(/);
    expect(markdownLink("x", "https://a.example/(x)")).not.toMatch(/(?<!\\)\]\(/);
  });
});

// ---------------------------------------------------------------------------------------------

function input(hits: EnrichedHit[], extra: Partial<IncidentTextInput> = {}): IncidentTextInput {
  const { severity, reason } = severityOf(hits);
  return { hits, severity, severityReason: reason, rule, grouping: "device", scenarios, ...extra };
}

function annotated(
  event: DetectionEvent,
  matchedBy: EnrichedHit["matchedBy"] = "name",
): EnrichedHit {
  return makeHit(event, { matchedBy, benign: annotateBenign(event, scenarios) });
}

describe("renderIncidentText: a small incident", () => {
  const hits = [
    annotated(
      makeEvent({
        Timestamp: "2026-11-25T08:01:00.000Z",
        ProcessCommandLine: "nbtscan.exe 10.20.0.0/16 > inventory.txt",
        InitiatingProcessParentFileName: "taskeng.exe",
      }),
    ),
    annotated(
      makeEvent({
        Timestamp: "2026-11-25T08:02:30.000Z",
        FileName: "svchost32.exe",
        SHA1: KNOWN_SHA1,
        FolderPath: "C:\\Users\\Public\\svchost32.exe",
        ProcessCommandLine: "svchost32.exe 10.20.1.0/24",
      }),
      "hash",
    ),
  ];
  const text = renderIncidentText(input(hits));

  it("titles it by activity, host and account", () => {
    expect(text.title).toBe(
      "nbtscan network discovery on ws-fin-07.contoso.local by CONTOSO\\j.doe (renamed binary)",
    );
  });

  it("summarises host, account, what ran, from where and how it matched", () => {
    const summary = text.description.split("\n\n")[1];
    expect(summary).toContain(
      "ran on **ws\\-fin\\-07\\.contoso\\.local** as **CONTOSO\\\\j\\.doe**",
    );
    expect(summary).toContain(
      "2 process starts between 2026\\-11\\-25 08:01:00Z and 2026\\-11\\-25 08:02:30Z",
    );
    expect(summary).toContain("a **renamed binary**, running as **svchost32\\.exe**");
    expect(summary).toContain("C:\\\\Users\\\\Public\\\\svchost32\\.exe");
    expect(summary).toContain("**user-writable or temporary folder**");
    expect(summary).toContain("Started by cmd\\.exe");
  });

  it("states severity and its reason first", () => {
    expect(text.description).toMatch(/^\*\*Severity: High\.\*\* 1 of 2 events show a known/);
  });

  it("has an evidence table with one row per event, oldest first", () => {
    const [table] = tablesOf(text.description);
    expect(table.header).toEqual([
      "Time (UTC)",
      "Table",
      "Action",
      "Folder",
      "Command line",
      "Parent",
    ]);
    expect(table.rows).toHaveLength(2);
    expect(table.rows.every((row) => row.length === 6)).toBe(true);
    expect(table.rows[0][4]).toContain("inventory");
    expect(text.description).not.toMatch(/more events? in the evidence comment/);
  });

  it("maps to ATT&CK with links: TA0007, the techniques, S0590 and G0093", () => {
    for (const ref of [
      "[TA0007 Discovery](https://attack.mitre.org/tactics/TA0007/)",
      "[T1046 Network Service Discovery](https://attack.mitre.org/techniques/T1046/)",
      "[T1018 Remote System Discovery](https://attack.mitre.org/techniques/T1018/)",
      "[S0590 NBTscan](https://attack.mitre.org/software/S0590/)",
      "Operation Soft Cell, [G0093 GALLIUM](https://attack.mitre.org/groups/G0093/)",
    ]) {
      expect(text.description).toContain(ref);
    }
  });

  it("lists benign explanations as something to verify, with the matched fields", () => {
    expect(text.description).toContain(
      "- Possible benign explanation — verify: **Scheduled network inventory job** (1 of 2 events; " +
        "matched InitiatingProcessParentFileName, ProcessCommandLine). IT inventory jobs run",
    );
    expect(text.description).toContain("1 of 2 events fits no benign scenario.");
  });

  it("says when no benign scenario fits", () => {
    const none = renderIncidentText(input([makeHit()]));
    expect(none.description).toContain("No known benign scenario fits");
  });

  it("gives concrete next steps", () => {
    const steps = text.description.slice(text.description.indexOf("### Next steps"));
    for (const expected of [
      "net.exe",
      "nltest",
      "AdFind",
      "ping or ARP sweeps",
      "Lateral movement",
      "RDP",
      "SMB",
      "PsExec",
      "WMI",
      "parent process tree",
      "CONTOSO\\\\j\\.doe",
      "FileOriginUrl",
      "signed",
    ]) {
      expect(steps).toContain(expected);
    }
  });

  it("puts the full evidence, hunting queries and references in the comment", () => {
    const [table] = tablesOf(text.evidenceComment);
    expect(table.header).toContain("Parent command line");
    expect(table.rows).toHaveLength(2);
    expect(table.rows[1]).toContain("hash, renamed binary");
    expect(text.evidenceComment).toContain("```kusto");
    expect(text.evidenceComment).toContain(
      'let devices = dynamic(["1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"])',
    );
    expect(text.evidenceComment).toContain("FileOriginUrl");
    for (const ref of rule.references) expect(text.evidenceComment).toContain(`](${ref.url})`);
  });
});

describe("renderIncidentText: file events", () => {
  it("names the process that wrote the file as its writer, not as nbtscan's parent", () => {
    const written = renderIncidentText(
      input([makeHit(makeFileEvent({ InitiatingProcessFileName: "msedge.exe" }))]),
    );
    const summary = written.description.split("\n\n")[1];
    expect(summary).toContain("Written to disk by msedge\\.exe.");
    expect(summary).not.toContain("Started by");
    expect(written.description).toContain("how msedge\\.exe came to write nbtscan");
  });

  it("takes the parent for the next steps from a process event when there is one", () => {
    const both = renderIncidentText(
      input([
        makeHit(makeFileEvent({ InitiatingProcessFileName: "msedge.exe" })),
        makeHit(makeEvent({ InitiatingProcessFileName: "cmd.exe" })),
      ]),
    );
    expect(both.description).toContain("how cmd\\.exe came to start nbtscan");
    expect(both.description).toContain("Written to disk by msedge\\.exe.");
  });
});

describe("renderIncidentText: titles", () => {
  it("counts further devices and accounts, and says when the file was only written", () => {
    const hits = [
      makeHit(makeFileEvent({ DeviceName: "a.contoso.local" })),
      makeHit(makeFileEvent({ DeviceName: "b.contoso.local", InitiatingProcessAccountName: "x" })),
      makeHit(makeFileEvent({ DeviceName: "C.contoso.local" })),
    ];
    expect(renderIncidentText(input(hits)).title).toBe(
      "nbtscan written to disk on a.contoso.local and 2 more devices by CONTOSO\\j.doe and 1 more account",
    );
  });

  it("neutralises and caps hostile names", () => {
    for (const hostile of HOSTILE_STRINGS) {
      const hit = makeHit(
        makeEvent({ DeviceName: hostile, InitiatingProcessAccountName: hostile }),
      );
      const title = renderIncidentText(input([hit])).title;
      expect(title.length).toBeLessThanOrEqual(TITLE_LIMIT);
      expect(title).not.toMatch(/[<>\r\n()`|]|:\/\/|www\./i);
      expect(title).toMatch(/^nbtscan network discovery on /);
    }
  });

  it("never leaves the names empty", () => {
    const hit = makeHit(
      makeEvent({
        DeviceName: "",
        InitiatingProcessAccountDomain: "",
        InitiatingProcessAccountName: "",
      }),
    );
    expect(renderIncidentText(input([hit])).title).toBe(
      "nbtscan network discovery on an unknown device by an unknown account",
    );
  });
});

describe("renderIncidentText: many long hostile events", () => {
  const next = random(11);
  const pick = (): string => HOSTILE_STRINGS[Math.floor(next() * HOSTILE_STRINGS.length)];
  const hits = Array.from({ length: 300 }, (_, i) => {
    const event = (i % 3 === 0 ? makeFileEvent : makeEvent)({
      DeviceName: `${pick()}-${i % 7}`,
      ActionType: pick(),
      FolderPath: pick(),
      FileName: pick(),
      ProcessCommandLine: pick(),
      InitiatingProcessAccountDomain: pick(),
      InitiatingProcessAccountName: pick(),
      InitiatingProcessFileName: pick(),
      InitiatingProcessCommandLine: pick(),
      InitiatingProcessParentFileName: pick(),
      SHA1: pick(),
      ReportId: pick(),
      DeviceId: pick(),
    });
    return makeHit(event, {
      matchedBy: i % 5 === 0 ? "hash" : "name",
      benign: i % 2 === 0 ? [benignMatch(), { ...benignMatch(`s-${i % 9}`), title: pick() }] : [],
    });
  });
  const text = renderIncidentText(
    input(hits, { grouping: pick(), severityReason: pick() + pick(), scenarios: [] }),
  );

  it("keeps the description within 5,000 and the comment within 30,000 characters", () => {
    expect(text.description.length).toBeLessThanOrEqual(DESCRIPTION_LIMIT);
    expect(text.evidenceComment.length).toBeLessThanOrEqual(EVIDENCE_COMMENT_LIMIT);
    expect(text.title.length).toBeLessThanOrEqual(TITLE_LIMIT);
  });

  it("still shows evidence rows, every one a well-formed table row, and counts the rest", () => {
    const [table] = tablesOf(text.description);
    expect(table.header).toEqual([
      "Time (UTC)",
      "Device",
      "Table",
      "Action",
      "Folder",
      "Command line",
      "Parent",
    ]);
    expect(table.rows.length).toBeGreaterThan(0);
    for (const row of table.rows) expect(row).toHaveLength(table.header.length);
    expect(text.description).toContain(
      `_${hits.length - table.rows.length} more events in the evidence comment._`,
    );
    const lines = text.description.split("\n");
    const tableLines = lines.filter((l) => l.startsWith("|"));
    expect(tableLines).toHaveLength(table.rows.length + 2);
  });

  it("shows as many events as fit in the comment, well-formed, with a note for the rest", () => {
    const [table] = tablesOf(text.evidenceComment);
    expect(table.rows.length).toBeGreaterThan(0);
    for (const row of table.rows) expect(row).toHaveLength(table.header.length);
    expect(text.evidenceComment).toContain(
      `_${hits.length - table.rows.length} more events not shown`,
    );
    expect(text.evidenceComment).toContain("### References");
  });

  it("lets no attacker string inject Markdown, HTML or links", () => {
    for (const markdown of [text.description, text.evidenceComment]) {
      const outside = withoutTrustedLinks(markdown.replace(/```kusto[\s\S]*?```/g, ""));
      expect(outside).not.toMatch(/<[a-z/!]/i);
      expect(outside).not.toMatch(/(?<!\\)\]\(/);
      expect(outside).not.toMatch(/:\/\/|www\./i);
      expect(outside).not.toMatch(/\r/);
      for (const row of tablesOf(markdown).flatMap((t) => t.rows)) {
        for (const cell of row) expect(escapingProblems(cell.replace(ELLIPSIS, ""))).toEqual([]);
      }
    }
  });

  it("puts only inert values in the hunting queries", () => {
    const kql = text.evidenceComment.match(/```kusto[\s\S]*?```/g) ?? [];
    expect(kql.length).toBeGreaterThan(0);
    for (const block of kql) {
      const scope = block.split("\n")[1];
      expect(scope).toMatch(
        /^let devices = dynamic\(\[\]\); let hashes = dynamic\(\["[0-9a-f]{40}"/,
      );
      expect(block.slice(3, -3)).not.toContain("`");
    }
  });
});

describe("renderIncidentText: limits", () => {
  it("fits a single event with every field at its longest", () => {
    const long = "&<|\\".repeat(10000);
    const event = makeEvent(Object.fromEntries(Object.keys(makeEvent()).map((k) => [k, long])));
    const text = renderIncidentText(
      input([makeHit({ ...event, SourceTable: "DeviceProcessEvents" })], {
        severityReason: long,
        grouping: long,
      }),
    );
    expect(text.description.length).toBeLessThanOrEqual(DESCRIPTION_LIMIT);
    expect(text.evidenceComment.length).toBeLessThanOrEqual(EVIDENCE_COMMENT_LIMIT);
    expect(tablesOf(text.description)[0].rows).toHaveLength(1);
    expect(tablesOf(text.evidenceComment)[0].rows).toHaveLength(1);
  });

  it("refuses an incident without hits", () => {
    expect(() => renderIncidentText(input([]))).toThrow(/at least one hit/);
  });
});
