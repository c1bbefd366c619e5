import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  applyExclusions,
  exclusionsAt,
  exclusionsForRule,
  loadExclusions,
  parseExclusions,
  type ExclusionSet,
} from "../../functions/triage/exclusions";
import { ConfigError } from "../../functions/config/configError";
import { SchemaValidationError } from "../../functions/validation";
import { makeEvent, makeHit } from "../support/events";
import { problemsOf as problemsOfCall } from "../support/problems";

const NOW = new Date("2026-11-25T12:00:00Z");

const INVENTORY_YAML = `
exclusions:
  - name: it-nightly-inventory
    expires: 2026-12-31
    reason: CHG0012345, verified with the IT asset team
    owner: secops@contoso.com
    devices: [INV01.contoso.local]
    accounts: ['CONTOSO\\svc-inventory']
    condition:
      all:
        - { column: FolderPath, matches: '^C:\\\\Program Files\\\\Inventory\\\\' }
        - { column: ProcessCommandLine, contains: inventory }
`;

const inventoryEvent = (overrides = {}) =>
  makeEvent({
    DeviceName: "inv01.contoso.local",
    InitiatingProcessAccountDomain: "contoso",
    InitiatingProcessAccountName: "SVC-Inventory",
    FolderPath: "C:\\Program Files\\Inventory\\nbtscan.exe",
    ProcessCommandLine: "nbtscan.exe 10.0.0.0/16 > inventory.csv",
    ...overrides,
  });

function inline(text: string, now = NOW): ExclusionSet {
  return loadExclusions({ inline: text }, now);
}

function problemsOf(text: string): string[] {
  return problemsOfCall(SchemaValidationError, () => parseExclusions(text, "EXCLUSIONS"));
}

function exclusion(fields: string): string {
  return `exclusions:\n  - ${fields.trim().split("\n").join("\n    ")}\n`;
}

describe("applying an exclusion", () => {
  const set = inline(INVENTORY_YAML);

  it("suppresses a hit that fits the scopes and the condition, with the exclusion's name", () => {
    const hit = makeHit(inventoryEvent());
    const other = makeHit(makeEvent());
    const outcome = applyExclusions([hit, other], set);
    expect(outcome.suppressed).toEqual([{ hit, exclusion: "it-nightly-inventory" }]);
    expect(outcome.kept).toEqual([other]);
    expect(outcome.coveringEverything).toEqual([]);
  });

  it("keeps the hit when the condition does not match", () => {
    const hit = makeHit(inventoryEvent({ FolderPath: "C:\\Users\\svc\\AppData\\nbtscan.exe" }));
    expect(applyExclusions([hit], set).kept).toEqual([hit]);
  });

  it("limits to the listed devices, ignoring case", () => {
    const elsewhere = makeHit(inventoryEvent({ DeviceName: "ws-fin-07.contoso.local" }));
    expect(applyExclusions([elsewhere], set).kept).toEqual([elsewhere]);
    const upper = makeHit(inventoryEvent({ DeviceName: "INV01.CONTOSO.LOCAL" }));
    expect(applyExclusions([upper], set).suppressed).toHaveLength(1);
  });

  it("limits to the listed accounts: DOMAIN\\name ignoring case, the domain must match", () => {
    const otherDomain = makeHit(inventoryEvent({ InitiatingProcessAccountDomain: "FABRIKAM" }));
    const otherName = makeHit(inventoryEvent({ InitiatingProcessAccountName: "j.doe" }));
    expect(applyExclusions([otherDomain, otherName], set).suppressed).toEqual([]);
  });

  it("reads a bare account name as that name in any domain", () => {
    const set2 = inline(
      exclusion(`
name: svc
expires: 2027-01-01
accounts: [svc-inventory]
condition: { column: FileName, equals: nbtscan.exe }`),
    );
    const hit = makeHit(inventoryEvent({ InitiatingProcessAccountDomain: "FABRIKAM" }));
    expect(applyExclusions([hit], set2).suppressed).toHaveLength(1);
    const other = makeHit(inventoryEvent({ InitiatingProcessAccountName: "svc-inventory2" }));
    expect(applyExclusions([other], set2).kept).toEqual([other]);
  });

  it("attributes a hit to the first exclusion that matches it", () => {
    const set2 = inline(`
exclusions:
  - { name: first, expires: 2027-01-01, condition: { column: FileName, equals: nbtscan.exe } }
  - { name: second, expires: 2027-01-01, condition: { column: FileName, contains: nbt } }
`);
    const outcome = applyExclusions([makeHit()], set2);
    expect(outcome.suppressed.map((s) => s.exclusion)).toEqual(["first"]);
  });

  it("reports every exclusion that matched every hit of the run", () => {
    const set2 = inline(`
exclusions:
  - { name: broad, expires: 2027-01-01, condition: { column: FileName, equals: nbtscan.exe } }
  - { name: also-broad, expires: 2027-01-01, condition: { column: SourceTable, contains: Device } }
  - { name: narrow, expires: 2027-01-01, condition: { column: DeviceName, equals: a.contoso.local } }
`);
    const hits = [makeHit(makeEvent({ DeviceName: "a.contoso.local" })), makeHit(makeEvent())];
    const outcome = applyExclusions(hits, set2);
    expect(outcome.coveringEverything).toEqual(["broad", "also-broad"]);
    expect(outcome.kept).toEqual([]);
    expect(applyExclusions([], set2)).toEqual({ kept: [], suppressed: [], coveringEverything: [] });
  });
});

describe("expiry", () => {
  const text = `
exclusions:
  - { name: through-day, expires: 2026-11-25, owner: alice, condition: { column: FileName, equals: nbtscan.exe } }
  - { name: at-instant, expires: "2026-11-25T12:00:00+01:00", condition: { column: FileName, equals: nbtscan.exe } }
`;

  it("applies a date-only expiry through the end of that day (UTC)", () => {
    const lastMinute = inline(text, new Date("2026-11-25T23:59:59Z"));
    expect(lastMinute.active.map((e) => e.name)).toEqual(["through-day"]);
    const nextDay = inline(text, new Date("2026-11-26T00:00:00Z"));
    expect(nextDay.active).toEqual([]);
  });

  it("applies a date-time expiry with its time zone, up to that instant", () => {
    expect(inline(text, new Date("2026-11-25T10:59:59Z")).active.map((e) => e.name)).toContain(
      "at-instant",
    );
    expect(inline(text, new Date("2026-11-25T11:00:00Z")).active.map((e) => e.name)).not.toContain(
      "at-instant",
    );
  });

  it("reports expired exclusions and never applies them", () => {
    const set = inline(text, new Date("2026-12-01T00:00:00Z"));
    expect(set.expired).toEqual([
      { name: "through-day", expires: "2026-11-25", owner: "alice" },
      { name: "at-instant", expires: "2026-11-25T12:00:00+01:00", owner: undefined },
    ]);
    const hit = makeHit();
    expect(applyExclusions([hit], set)).toEqual({
      kept: [hit],
      suppressed: [],
      coveringEverything: [],
    });
  });

  it("can split an already parsed list again at a later time", () => {
    const parsed = parseExclusions(text, "EXCLUSIONS");
    expect(exclusionsAt(parsed, new Date("2026-11-01T00:00:00Z")).active).toHaveLength(2);
    expect(exclusionsAt(parsed, new Date("2027-01-01T00:00:00Z")).expired).toHaveLength(2);
  });
});

describe("which detections an exclusion applies to", () => {
  const NBTSCAN = "6f0c1d1e-3b7a-4f55-9a8e-5d1c0b8a9e21";
  const ADFIND = "a4311252-87ba-4abe-b481-9f907b5865bb";
  const SCANNER = "207dc176-552f-42f5-93fb-a71c271985c6";
  const doc = `
exclusions:
  - { name: old-nbtscan-only, expires: 2027-01-01, condition: { column: FileName, equals: x.exe } }
  - name: adfind-and-scanner
    expires: 2027-01-01
    rules: [${ADFIND.toUpperCase()}, ${SCANNER}]
    condition: { column: FileName, equals: x.exe }
  - { name: gone, expires: 2026-01-01, rules: [${SCANNER}], condition: { column: FileName, equals: x.exe } }
`;
  const set = exclusionsAt(parseExclusions(doc, "EXCLUSIONS"), NOW);
  const names = (ruleId: string): string[][] => {
    const scoped = exclusionsForRule(set, ruleId, NBTSCAN);
    return [scoped.active.map((e) => e.name), scoped.expired.map((e) => e.name)];
  };

  it("without rules: nbtscan's only, as every exclusion written before there were other rules", () => {
    expect(names(NBTSCAN)).toEqual([["old-nbtscan-only"], []]);
  });

  it("with rules: the detections it names (ids in any case), its expiry reported to them only", () => {
    expect(names(ADFIND)).toEqual([["adfind-and-scanner"], []]);
    expect(names(SCANNER)).toEqual([["adfind-and-scanner"], ["gone"]]);
  });

  it("a rules entry that is not a rule id: one line naming it, with an example", () => {
    expect(
      problemsOf(
        exclusion(
          "name: x\nexpires: 2027-01-01\nrules: [nbtscan]\ncondition: { column: FileName, equals: a }",
        ),
      ),
    ).toEqual([
      expect.stringMatching(
        /^EXCLUSIONS: exclusion 'x' \(#1\): .*rules.*; e\.g\. rules: \[6f0c1d1e-/,
      ),
    ]);
  });
});

describe("rejected at start with one clear line naming the source, the exclusion and the field", () => {
  const condition = "condition: { column: FileName, equals: nbtscan.exe }";

  it("an exclusion without a name", () => {
    expect(problemsOf(exclusion(`expires: 2027-01-01\n${condition}`))).toEqual([
      "EXCLUSIONS: exclusion #1: 'name' is missing; e.g. name: it-nightly-inventory (letters, digits, '.', '_' and '-')",
    ]);
  });

  it("an exclusion without an expiry", () => {
    expect(problemsOf(exclusion(`name: forever\n${condition}`))).toEqual([
      "EXCLUSIONS: exclusion 'forever' (#1): 'expires' is missing; e.g. expires: 2026-06-30 (through that day, UTC) or 2026-06-30T18:00:00Z",
    ]);
  });

  it.each(["next week", "2026-02-30", "2026-11-25T10:00:00", "2026-13-01"])(
    "an expiry that is not a date: %p gives one line, not the validator's three",
    (bad) => {
      expect(problemsOf(exclusion(`name: x\nexpires: "${bad}"\n${condition}`))).toEqual([
        `EXCLUSIONS: exclusion 'x' (#1): expires '${bad}' is not a date or a date-time with a time zone; e.g. expires: 2026-06-30 (through that day, UTC) or 2026-06-30T18:00:00Z`,
      ]);
    },
  );

  it("an exclusion without a condition", () => {
    expect(problemsOf(exclusion("name: x\nexpires: 2027-01-01\ndevices: [a]"))).toEqual([
      expect.stringMatching(
        /^EXCLUSIONS: exclusion 'x' \(#1\): 'condition' is missing; e\.g\. condition: \{/,
      ),
    ]);
  });

  it("two operators in one condition: one line saying so, with an example", () => {
    expect(
      problemsOf(
        exclusion(
          "name: x\nexpires: 2027-01-01\ncondition: { all: [{ column: FileName, equals: a, contains: b }] }",
        ),
      ),
    ).toEqual([
      expect.stringMatching(
        /^EXCLUSIONS: exclusion 'x' \(#1\): condition '.*' has more than one operator at \/all\/0: a condition is one column and exactly one of equals, notEquals, contains or matches .*; e\.g\. condition: \{ column: FolderPath, contains: Inventory \}$/,
      ),
    ]);
  });

  it("a misspelt column, operator or scope", () => {
    expect(
      problemsOf(
        exclusion("name: x\nexpires: 2027-01-01\ncondition: { column: Filename, equals: a }"),
      ),
    ).toEqual([
      expect.stringMatching(/condition '.*' names an unknown column at \/column \(.*FileName/),
    ]);
    expect(
      problemsOf(exclusion("name: x\nexpires: 2027-01-01\ncondition: { column: FileName, is: a }")),
    ).toEqual([expect.stringMatching(/condition '.*' has 'is', which is not an operator/)]);
    expect(
      problemsOf(exclusion(`name: x\nexpires: 2027-01-01\ndevice: [a]\n${condition}`)),
    ).toEqual([
      "EXCLUSIONS: exclusion 'x' (#1): 'device' is not a field of an exclusion (name, expires, reason, owner, devices, accounts, rules, condition)",
    ]);
  });

  it("an invalid regular expression", () => {
    expect(
      problemsOf(
        exclusion("name: x\nexpires: 2027-01-01\ncondition: { column: FileName, matches: 'a(' }"),
      ),
    ).toEqual([
      expect.stringMatching(
        /^EXCLUSIONS: exclusion 'x' \(#1\): condition \/matches is not a valid regular expression/,
      ),
    ]);
  });

  it("a name used twice (the audit trail must be unambiguous)", () => {
    const text = `exclusions:\n  - { name: a, expires: 2027-01-01, ${condition} }\n  - { name: A, expires: 2027-01-01, ${condition} }\n`;
    expect(problemsOf(text)).toEqual([
      "EXCLUSIONS: exclusion 'A' (#2): name 'A' is used by an earlier exclusion; each needs its own name (the audit trail records it)",
    ]);
  });

  it("broken JSON or YAML: one line, source:line:col: message, no excerpt or caret", () => {
    expect(problemsOf('{"exclusions": [ {"name": }')).toEqual([
      "EXCLUSIONS:1:28: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
    expect(problemsOf("exclusions:\n  - name: a\n   bad: [")).toEqual([
      expect.stringMatching(/^EXCLUSIONS:3:1: [^\n]+$/),
    ]);
  });

  it("a document without an exclusions list", () => {
    for (const text of ["[1, 2]", "exclusion: []", "just text"]) {
      expect(problemsOf(text)).toEqual([
        expect.stringMatching(
          /^EXCLUSIONS: is not an exclusions document; expected exclusions: \[\{ name: /,
        ),
      ]);
    }
  });

  it("names the setting in the message", () => {
    expect(
      problemsOfCall(ConfigError, () => inline(exclusion(`name: forever\n${condition}`))),
    ).toEqual([
      expect.stringMatching(/^EXCLUSIONS: exclusion 'forever' \(#1\): 'expires' is missing/),
    ]);
  });
});

describe("sources", () => {
  const json = JSON.stringify({
    exclusions: [
      {
        name: "json-one",
        expires: "2027-01-01",
        condition: { any: [{ column: "ProcessCommandLine", contains: "inventory" }] },
      },
    ],
  });
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "exclusions-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads inline JSON as well as YAML", () => {
    expect(inline(json).active.map((e) => e.name)).toEqual(["json-one"]);
    expect(inline(INVENTORY_YAML).active.map((e) => e.name)).toEqual(["it-nightly-inventory"]);
  });

  it("reads a YAML or JSON file from EXCLUSIONS_FILE", () => {
    const yamlFile = path.join(dir, "exclusions.yaml");
    const jsonFile = path.join(dir, "exclusions.json");
    writeFileSync(yamlFile, INVENTORY_YAML);
    writeFileSync(jsonFile, json);
    expect(loadExclusions({ file: yamlFile }, NOW).active[0].name).toBe("it-nightly-inventory");
    const set = loadExclusions({ file: jsonFile }, NOW);
    const hit = makeHit(inventoryEvent());
    expect(applyExclusions([hit], set).suppressed).toEqual([{ hit, exclusion: "json-one" }]);
  });

  it("names the file and the setting, as bad configuration, when the file is unreadable or invalid", () => {
    const missing = path.join(dir, "missing.yaml");
    expect(problemsOfCall(ConfigError, () => loadExclusions({ file: missing }, NOW))).toEqual([
      `EXCLUSIONS_FILE '${missing}' cannot be read (ENOENT).`,
    ]);
    expect(problemsOfCall(ConfigError, () => loadExclusions({ file: dir }, NOW))).toEqual([
      `EXCLUSIONS_FILE '${dir}' cannot be read (EISDIR).`,
    ]);
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(bad, "exclusions:\n  - name: x\n");
    expect(problemsOfCall(ConfigError, () => loadExclusions({ file: bad }, NOW))).toEqual([
      `${bad}: exclusion 'x' (#1): 'expires' is missing; e.g. expires: 2026-06-30 (through that day, UTC) or 2026-06-30T18:00:00Z`,
      expect.stringMatching(/^.*bad\.yaml: exclusion 'x' \(#1\): 'condition' is missing/),
    ]);
    const broken = path.join(dir, "broken.yaml");
    writeFileSync(broken, "exclusions:\n  - name: x\n   bad: [\n");
    expect(problemsOfCall(ConfigError, () => loadExclusions({ file: broken }, NOW))).toEqual([
      expect.stringMatching(new RegExp(`^${broken.replace(/[.\\/]/g, "\\$&")}:3:1: [^\\n]+$`)),
    ]);
  });

  it("means no exclusions when neither setting is set, or the document says so", () => {
    const none = { active: [], expired: [] };
    expect(loadExclusions({}, NOW)).toEqual(none);
    expect(loadExclusions({ inline: "  \n" }, NOW)).toEqual(none);
    expect(inline("exclusions: []")).toEqual(none);
  });

  it("refuses an empty exclusions file, or one of only comments: a wrong file is likelier than a choice", () => {
    for (const text of ["", "# nothing yet\n"]) {
      const empty = path.join(dir, "empty.yaml");
      writeFileSync(empty, text);
      expect(problemsOfCall(ConfigError, () => loadExclusions({ file: empty }, NOW))).toEqual([
        `${empty}: has no exclusions document (it is empty); expected exclusions: [{ name: it-nightly-inventory, expires: 2026-06-30, condition: { column: FolderPath, contains: Inventory } }], or 'exclusions: []' for none`,
      ]);
    }
  });

  it("refuses both settings at once rather than guess", () => {
    expect(
      problemsOfCall(ConfigError, () => loadExclusions({ file: "x.yaml", inline: json }, NOW)),
    ).toEqual([expect.stringMatching(/^EXCLUSIONS_FILE and EXCLUSIONS are both set/)]);
  });
});
