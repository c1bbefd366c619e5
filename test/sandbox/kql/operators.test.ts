// Conformance of the local engine's scalar operators. Each block cites the Kusto docs page its
// cases come from (learn.microsoft.com/kusto/query/...); the examples the pages give are used as
// they are, and the edge cases follow the rules the pages state.
import { scalar } from "./run";

describe("string operators (datatypes-string-operators: the table of operators and its examples)", () => {
  it.each([
    [`"aBc" == "aBc"`, true],
    [`"abc" == "ABC"`, false],
    [`"abc" != "ABC"`, true],
    [`"abc" =~ "ABC"`, true],
    [`"aBc" !~ "xyz"`, true],
    [`"abc" !~ "ABC"`, false],
    [`"FabriKam" contains "BRik"`, true],
    [`"Fabrikam" !contains "xyz"`, true],
    [`"FabriKam" contains_cs "Kam"`, true],
    [`"FabriKam" contains_cs "kam"`, false],
    [`"Fabrikam" !contains_cs "Kam"`, true],
    [`"Fabrikam" startswith "fab"`, true],
    [`"Fabrikam" startswith_cs "fab"`, false],
    [`"Fabrikam" endswith "Kam"`, true],
    [`"Fabrikam" endswith_cs "kam"`, true],
    [`"Fabrikam" !endswith "brik"`, true],
    [`"North America" has "america"`, true],
    [`"North America" !has "amer"`, true],
    [`"North America" has_cs "America"`, true],
    [`"North America" has_cs "america"`, false],
    [`"North America" hasprefix "ame"`, true],
    [`"North America" hasprefix "ica"`, false],
    [`"North America" hassuffix "ica"`, true],
    [`"North America" hassuffix "ame"`, false],
  ])("%s is %s", (expression, expected) => {
    expect(scalar(expression)).toBe(expected);
  });
});

describe("has: whole terms (datatypes-string-operators, 'What is a term?')", () => {
  // The page's example: terms are maximal runs of alphanumerics.
  const sample = "Kusto: ad67d136-c1db-4f9f-88ef-d94f3b6b0b5a;KustoExplorerQueryRun";
  it.each([
    ["Kusto", true],
    ["KustoExplorerQueryRun", true],
    ["ad67d136", true],
    ["c1db", true],
    ["d94f3b6b0b5a", true],
    // Said on the page: "KustoExplorerQueryRun" has "Explorer" is false, contains is true.
    ["Explorer", false],
    ["67d1", false],
  ])(`"${sample}" has "%s" is %s`, (term, expected) => {
    expect(scalar(`"${sample}" has "${term}"`)).toBe(expected);
    expect(scalar(`"${sample}" contains "${term}"`)).toBe(true);
  });

  it("matches a right side that spans terms only at term boundaries at both ends", () => {
    expect(scalar(`"C:\\\\Tools\\\\nbtscan.exe -r 10.0.0.0/24" has "nbtscan.exe"`)).toBe(true);
    expect(scalar(`"C:\\\\Tools\\\\xnbtscan.exe" has "nbtscan.exe"`)).toBe(false);
    expect(scalar(`"nbtscan.exe.bak" has "nbtscan.exe"`)).toBe(true);
    expect(scalar(`"nbtscan.exe1" has "nbtscan.exe"`)).toBe(false);
  });

  it("treats letters and digits of any script as term characters (Unicode)", () => {
    expect(scalar(`"größe ärger" has "ärger"`)).toBe(true);
    expect(scalar(`"überwachung" has "wachung"`)).toBe(false);
    expect(scalar(`"Ünïcode" =~ "üNÏCODE"`)).toBe(true);
  });

  it("has_any is true when any listed term is present; has_all when all are (has-any-operator, has-all-operator)", () => {
    expect(scalar(`"North America" has_any ("south", "america")`)).toBe(true);
    expect(scalar(`"North America" has_any ("south", "amer")`)).toBe(false);
    expect(scalar(`"North America" has_all ("north", "america")`)).toBe(true);
    expect(scalar(`"North America" has_all ("north", "europe")`)).toBe(false);
    expect(scalar(`"North America" has_any (dynamic(["x", "NORTH"]))`)).toBe(true);
  });
});

describe("matches regex: RE2 syntax, a match anywhere (datatypes-string-operators, re2)", () => {
  it.each([
    [`"nbtscan.exe" matches regex "^nbt"`, true],
    [`"run nbtscan now" matches regex "nbt[a-z]+"`, true],
    [`"NBTSCAN" matches regex "nbtscan"`, false],
    [`"NBTSCAN" matches regex "(?i)nbtscan"`, true],
    [`"a.b" matches regex @"a\\.b"`, true],
    [`"axb" matches regex @"a\\.b"`, false],
  ])("%s is %s", (expression, expected) => {
    expect(scalar(expression)).toBe(expected);
  });

  it("rejects what RE2 lacks (backreferences) as the query's error", () => {
    expect(() => scalar(`"aa" matches regex @"(a)\\1"`)).toThrow(/not a valid regular expression/);
  });
});

describe("in, !in, in~, !in~ (in-operator, in-cs-operator)", () => {
  it.each([
    [`"b" in ("a", "b")`, true],
    [`"B" in ("a", "b")`, false],
    [`"B" in~ ("a", "b")`, true],
    [`"B" !in~ ("a", "b")`, false],
    [`"c" !in ("a", "b")`, true],
    [`2 in (1, 2, 3)`, true],
    // A dynamic array in the list stands for its elements.
    [`"b" in (dynamic(["a", "b"]))`, true],
    [`"x" in (dynamic(["a", "b"]), "x")`, true],
    [`"x" in (dynamic([]))`, false],
  ])("%s is %s", (expression, expected) => {
    expect(scalar(expression)).toBe(expected);
  });

  it("reads a let-bound pack_array as the list (the detection's hash list)", () => {
    expect(
      scalar(`toscalar(print x = 1 | extend y = "h2" in (pack_array("h1", "h2")) | project y)`),
    ).toBe(true);
  });
});

describe("between (between-operator)", () => {
  it.each([
    [`5 between (1 .. 10)`, true],
    [`10 between (1 .. 10)`, true],
    [`11 between (1 .. 10)`, false],
    [`11 !between (1 .. 10)`, true],
    [`datetime(2026-01-01 10:30) between (datetime(2026-01-01 10:00) .. 1h)`, true],
    [`datetime(2026-01-01 11:01) between (datetime(2026-01-01 10:00) .. 1h)`, false],
  ])("%s is %s", (expression, expected) => {
    expect(scalar(expression)).toBe(expected);
  });
});

describe("nulls (scalar-data-types/null-values) and the empty string", () => {
  it.each([
    // Equality of two nulls is null, of a null and a value false; inequality null / true.
    [`int(null) == int(null)`, null],
    [`int(null) == 5`, false],
    [`int(null) != int(null)`, null],
    [`int(null) != 5`, true],
    [`int(null) > 3`, null],
    [`int(null) > 3 or isnull(int(null))`, true],
    [`int(null) > 3 and false`, false],
    [`isnull(int(null))`, true],
    // Strings are never null: an empty string is empty, not null.
    [`isnull("")`, false],
    [`isempty("")`, true],
    [`isempty(int(null))`, true],
    [`isnotempty("a")`, true],
    [`isnotnull(datetime(null))`, false],
    [`"" == ""`, true],
    [`"" has "a"`, false],
    [`"" contains ""`, true],
    [`not(int(null) > 3)`, null],
    [`not(true)`, false],
  ])("%s is %s", (expression, expected) => {
    expect(scalar(expression)).toBe(expected);
  });
});

describe("datetime and timespan arithmetic (datetime-timespan-arithmetic)", () => {
  it.each([
    [`datetime(2026-01-02) - datetime(2026-01-01)`, "1.00:00:00"],
    [`datetime(2026-01-01) + 1d`, "2026-01-02T00:00:00.0000000Z"],
    [`datetime(2026-01-01) - 30m`, "2025-12-31T23:30:00.0000000Z"],
    [`1h + 30m`, "01:30:00"],
    [`2h * 3`, "06:00:00"],
    [`1d / 1h`, 24],
    [`datetime(2026-01-01 00:00:00.1234567) + 1tick`, "2026-01-01T00:00:00.1234568Z"],
    [`datetime(2026-01-01) > datetime(2025-12-31)`, true],
    [`7 / 2`, 3],
    [`7.0 / 2`, 3.5],
    [`7 % 3`, 1],
    [`-(5)`, -5],
    [`datetime(null) + 1h`, null],
  ])("%s is %s", (expression, expected) => {
    expect(scalar(expression)).toEqual(expected);
  });

  it("reads now() and ago() off one clock for the whole query (now-function, ago-function)", () => {
    const now = new Date("2026-11-25T12:00:00Z");
    expect(scalar("now()", { now })).toBe("2026-11-25T12:00:00.0000000Z");
    expect(scalar("ago(1h)", { now })).toBe("2026-11-25T11:00:00.0000000Z");
    expect(scalar("now(-2d)", { now })).toBe("2026-11-23T12:00:00.0000000Z");
  });
});

describe("logical operators (logical-operators)", () => {
  it.each([
    [`true and false`, false],
    [`true or false`, true],
    [`not(false)`, true],
    [`1 < 2 and 2 < 3`, true],
  ])("%s is %s", (expression, expected) => {
    expect(scalar(expression)).toBe(expected);
  });
});
