// Conformance of the local engine's scalar functions, each against its page under
// learn.microsoft.com/kusto/query/ (named in the describe), using the page's examples where it
// gives them.
import { column, scalar } from "./run";

describe("isempty, isnotempty, isnull, isnotnull (isempty-function, isnull-function)", () => {
  it.each([
    [`isempty("")`, true],
    [`isempty("x")`, false],
    [`isempty(long(null))`, true],
    [`isnotempty("")`, false],
    [`isnull("")`, false],
    [`isnull(dynamic(null))`, true],
    [`isnotnull(1)`, true],
  ])("%s is %s", (expression, expected) => expect(scalar(expression)).toBe(expected));
});

describe("tolower, toupper, strlen, strcat (tolower-function, toupper-function, strlen-function, strcat-function)", () => {
  it.each([
    [`tolower("Hello")`, "hello"],
    [`toupper("Hello")`, "HELLO"],
    [`strlen("hello")`, 5],
    // strlen counts Unicode characters, not UTF-16 code units.
    [`strlen("⒦⒰⒮⒯⒪")`, 5],
    [`strlen("😀")`, 1],
    [`strlen("")`, 0],
    [`strcat("hello", " ", "world")`, "hello world"],
    [`strcat("a", 1, true)`, "a1true"],
  ])("%s is %s", (expression, expected) => expect(scalar(expression)).toBe(expected));
});

describe("tostring, toint, tolong, todatetime (tostring-function, toint-function, tolong-function, todatetime-function)", () => {
  it.each([
    [`tostring(123)`, "123"],
    [`tostring(long(null))`, ""],
    [`tostring(dynamic({"a":1}))`, '{"a":1}'],
    [`tostring(dynamic("text"))`, "text"],
    [`toint("123")`, 123],
    [`toint("abc")`, null],
    [`toint(2.7)`, 2],
    [`tolong("9007199254740")`, 9007199254740],
    [`tolong("")`, null],
    [`todatetime("2015-12-24")`, "2015-12-24T00:00:00.0000000Z"],
    [`todatetime("2026-11-25T08:05:00.1234567Z")`, "2026-11-25T08:05:00.1234567Z"],
    [`todatetime("not a date")`, null],
  ])("%s is %s", (expression, expected) => expect(scalar(expression)).toEqual(expected));
});

describe("split (split-function: the page's examples)", () => {
  it.each([
    [`split("aa_bb", "_")`, ["aa", "bb"]],
    [`split("aaa_bbb_ccc", "_", 1)`, ["bbb"]],
    [`split("", "_")`, [""]],
    [`split("a__b", "_")`, ["a", "", "b"]],
    [`split("aabbcc", "bb")`, ["aa", "cc"]],
    [`split("C:\\\\Tools\\\\nbtscan.exe", "\\\\")[-1]`, "nbtscan.exe"],
  ])("%s is %j", (expression, expected) => expect(scalar(expression)).toEqual(expected));
});

describe("extract (extract-function)", () => {
  it.each([
    [`extract("x=([0-9.]+)", 1, "hello x=45.6|wo")`, "45.6"],
    [`extract("x=([0-9.]+)", 0, "hello x=45.6|wo")`, "x=45.6"],
    [`extract("y=([0-9.]+)", 1, "hello x=45.6|wo")`, ""],
    [`extract("x=([0-9]+)", 1, "x=45", typeof(long))`, 45],
  ])("%s is %j", (expression, expected) => expect(scalar(expression)).toEqual(expected));
});

describe("iff/iif, case, coalesce (iff-function, case-function, coalesce-function)", () => {
  it.each([
    [`iff(1 > 0, "yes", "no")`, "yes"],
    [`iif(1 < 0, "yes", "no")`, "no"],
    // A null predicate is not true: the else branch.
    [`iff(int(null) > 0, "yes", "no")`, "no"],
    [`case(5 > 10, "big", 5 > 1, "medium", "small")`, "medium"],
    [`case(5 > 10, "big", "small")`, "small"],
    [`coalesce(long(null), 5, 6)`, 5],
    // For strings, the first non-empty one.
    [`coalesce("", "b")`, "b"],
    [`coalesce("", "")`, ""],
  ])("%s is %j", (expression, expected) => expect(scalar(expression)).toEqual(expected));
});

describe("parse_json/todynamic, property and index access, array_length (parse-json-function, array-length-function)", () => {
  it.each([
    [`parse_json('{"a":{"b":[10,20]}}').a.b[1]`, 20],
    [`parse_json('{"a":{"b":[10,20]}}')["a"]["b"][0]`, 10],
    [`todynamic('[1,2,3]')[-1]`, 3],
    [`parse_json('{"a":1}').absent`, null],
    [`array_length(dynamic([1, 2, 3]))`, 3],
    [`array_length(parse_json('{"a":1}'))`, null],
    [`array_length(parse_json("[]"))`, 0],
    [
      `tostring(parse_json('{"Custom Details":"{\\\\"EventKey\\\\":[\\\\"k1\\\\"]}"}')["Custom Details"])`,
      '{"EventKey":["k1"]}',
    ],
  ])("%s is %j", (expression, expected) => expect(scalar(expression)).toEqual(expected));
});

describe("bin (bin-function)", () => {
  it.each([
    [`bin(4.5, 1)`, 4],
    [`bin(7, 5)`, 5],
    [`bin(datetime(2026-11-25 10:47:13), 1h)`, "2026-11-25T10:00:00.0000000Z"],
    [`bin(datetime(2026-11-25 10:47:13), 1d)`, "2026-11-25T00:00:00.0000000Z"],
    [`bin(time(1.5h), 1h)`, "01:00:00"],
    [`bin(long(null), 5)`, null],
  ])("%s is %j", (expression, expected) => expect(scalar(expression)).toEqual(expected));
});

describe("ingestion_time (ingestion-time-function)", () => {
  it("returns each record's ingestion time, and null after summarize makes new records", () => {
    const tables = {
      T: {
        columns: { A: "string" },
        rows: [{ A: "x" }, { A: "y" }],
        ingested: ["2026-11-25T08:00:00Z", "2026-11-25T09:00:00.5Z"],
      },
    };
    expect(column("T | project I = ingestion_time()", tables)).toEqual([
      "2026-11-25T08:00:00.0000000Z",
      "2026-11-25T09:00:00.5000000Z",
    ]);
    expect(column("T | summarize c = count() by A | project I = ingestion_time()", tables)).toEqual(
      [null, null],
    );
  });
});
