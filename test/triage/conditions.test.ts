import {
  CONDITION_SCHEMA,
  compileCondition,
  evaluateCondition,
  parseCondition,
} from "../../functions/triage/conditions";
import { RE2JS } from "re2js";
import { EVENT_COLUMNS, type DetectionEvent } from "../../functions/model";
import { SchemaValidationError } from "../../functions/validation";
import { makeEvent } from "../support/events";
import { problemsOf as problemsOfCall } from "../support/problems";

function problemsOf(value: unknown): string[] {
  return problemsOfCall(SchemaValidationError, () => parseCondition(value));
}

function run(condition: unknown, event: DetectionEvent = makeEvent()) {
  return evaluateCondition(parseCondition(condition), event);
}

describe("column list", () => {
  it("names every column of a DetectionEvent, and the schema enum is that list", () => {
    expect([...EVENT_COLUMNS].sort()).toEqual(Object.keys(makeEvent()).sort());
    const defs = (CONDITION_SCHEMA as { definitions: { column: { enum: string[] } } }).definitions;
    expect(defs.column.enum).toEqual([...EVENT_COLUMNS]);
  });
});

describe("leaf operators", () => {
  const event = makeEvent({
    InitiatingProcessFileName: "TaskEng.EXE",
    ProcessCommandLine: "nbtscan.exe -r 10.0.0.0/24 > Inventory.txt",
  });

  it("equals ignores case and accepts a list meaning any of them", () => {
    expect(run({ column: "InitiatingProcessFileName", equals: "taskeng.exe" }, event)).toEqual({
      matched: true,
      fields: ["InitiatingProcessFileName"],
    });
    expect(
      run({ column: "InitiatingProcessFileName", equals: ["x.exe", "TASKENG.exe"] }, event).matched,
    ).toBe(true);
    expect(run({ column: "InitiatingProcessFileName", equals: "taskeng" }, event).matched).toBe(
      false,
    );
  });

  it("notEquals matches when the value equals none of the strings", () => {
    expect(run({ column: "InitiatingProcessFileName", notEquals: "cmd.exe" }, event).matched).toBe(
      true,
    );
    expect(
      run({ column: "InitiatingProcessFileName", notEquals: ["cmd.exe", "TASKENG.EXE"] }, event)
        .matched,
    ).toBe(false);
  });

  it("contains ignores case and accepts a list", () => {
    expect(run({ column: "ProcessCommandLine", contains: "INVENTORY" }, event).matched).toBe(true);
    expect(run({ column: "ProcessCommandLine", contains: ["patch", "inv"] }, event).matched).toBe(
      true,
    );
    expect(run({ column: "ProcessCommandLine", contains: "patch" }, event).matched).toBe(false);
  });

  it("matches searches anywhere, ignoring case, and honours word boundaries", () => {
    expect(run({ column: "ProcessCommandLine", matches: "\\binventory\\b" }, event).matched).toBe(
      true,
    );
    expect(run({ column: "ProcessCommandLine", matches: "^nbtscan" }, event).matched).toBe(true);
    expect(run({ column: "ProcessCommandLine", matches: "\\bscan\\b" }, event).matched).toBe(false);
  });

  it("matches in linear time: a catastrophic pattern on a 32,000-character command line ends", () => {
    // A backtracking engine needs about 2^32000 steps for this; RE2 reads the value once.
    const attacker = makeEvent({ ProcessCommandLine: `${"a".repeat(32_000)}!` });
    expect(run({ column: "ProcessCommandLine", matches: "(a+)+$" }, attacker).matched).toBe(false);
    expect(run({ column: "ProcessCommandLine", matches: "(a+)+!$" }, attacker).matched).toBe(true);
  });

  it("compiles a regex once, case-insensitive and stateless across evaluations", () => {
    const compiled = compileCondition({ column: "FileName", matches: "NBTSCAN" });
    expect(compiled).toMatchObject({ op: "matches" });
    if (compiled.op !== "matches") throw new Error("unreachable");
    expect(compiled.regex.flags() & RE2JS.CASE_INSENSITIVE).toBe(RE2JS.CASE_INSENSITIVE);
    for (let i = 0; i < 3; i++) expect(evaluateCondition(compiled, makeEvent()).matched).toBe(true);
  });

  it("reads a null column as the empty string", () => {
    const sparse = {
      ...makeEvent(),
      InitiatingProcessParentFileName: null,
    } as unknown as DetectionEvent;
    expect(run({ column: "InitiatingProcessParentFileName", equals: "" }, sparse).matched).toBe(
      true,
    );
    expect(run({ column: "InitiatingProcessParentFileName", notEquals: "x" }, sparse).matched).toBe(
      true,
    );
  });
});

describe("combinators", () => {
  const event = makeEvent({ InitiatingProcessFileName: "cmd.exe", ProcessCommandLine: "check" });
  const parentIsCmd = { column: "InitiatingProcessFileName", equals: "cmd.exe" };
  const saysCheck = { column: "ProcessCommandLine", contains: "check" };
  const saysPatch = { column: "ProcessCommandLine", contains: "patch" };

  it("all needs every nested condition and reports their columns", () => {
    expect(run({ all: [parentIsCmd, saysCheck] }, event)).toEqual({
      matched: true,
      fields: ["InitiatingProcessFileName", "ProcessCommandLine"],
    });
    expect(run({ all: [parentIsCmd, saysPatch] }, event)).toEqual({ matched: false, fields: [] });
  });

  it("any needs one and reports the columns of every matching branch", () => {
    expect(run({ any: [saysPatch, parentIsCmd] }, event)).toEqual({
      matched: true,
      fields: ["InitiatingProcessFileName"],
    });
    expect(run({ any: [saysCheck, parentIsCmd] }, event).fields).toEqual([
      "ProcessCommandLine",
      "InitiatingProcessFileName",
    ]);
    expect(run({ any: [saysPatch] }, event).matched).toBe(false);
  });

  it("nests, and reports each column once", () => {
    const nested = { any: [{ all: [parentIsCmd, { any: [saysPatch, saysCheck] }] }, saysCheck] };
    expect(run(nested, event)).toEqual({
      matched: true,
      fields: ["InitiatingProcessFileName", "ProcessCommandLine"],
    });
  });
});

describe("rejected at load, naming the path", () => {
  it("an unknown column, listing the allowed ones", () => {
    const problems = problemsOf({ any: [{ column: "ProcessComandLine", contains: "x" }] });
    expect(problems[0]).toMatch(/^\/any\/0\/column must be equal to one of the allowed values/);
    expect(problems[0]).toContain("ProcessCommandLine");
  });

  it("an unknown operator", () => {
    expect(problemsOf({ column: "FileName", equal: "x" })[0]).toMatch(
      /additional properties 'equal'/,
    );
  });

  it("a leaf without an operator, or with two", () => {
    expect(problemsOf({ column: "FileName" })[0]).toMatch(/fewer than 2 properties/);
    expect(problemsOf({ column: "FileName", equals: "a", contains: "b" })[0]).toMatch(
      /more than 2 properties/,
    );
  });

  it("empty substrings and empty lists, which would match everything or nothing", () => {
    expect(problemsOf({ column: "FileName", contains: "" })[0]).toMatch(/^\/contains/);
    expect(problemsOf({ column: "FileName", equals: [] })[0]).toMatch(/^\/equals/);
    expect(problemsOf({ all: [] })[0]).toMatch(/^\/all/);
  });

  it("a combinator mixed with a leaf", () => {
    expect(
      problemsOf({ all: [{ column: "FileName", equals: "a" }], column: "FileName" })[0],
    ).toMatch(/additional properties 'column'/);
  });

  it("an invalid regular expression, deep in the tree", () => {
    const problems = problemsOf({
      all: [{ column: "FileName", equals: "a" }, { any: [{ column: "FileName", matches: "(" }] }],
    });
    expect(problems).toEqual([
      expect.stringMatching(/^\/all\/1\/any\/0\/matches is not a valid regular expression/),
    ]);
  });

  it("regular expression features that need backtracking, which RE2 does not run", () => {
    expect(problemsOf({ column: "FileName", matches: "nbt(?=scan)" })).toEqual([
      expect.stringMatching(/^\/matches is not a valid regular expression \(RE2 syntax\).*\(\?=/),
    ]);
    expect(problemsOf({ column: "FileName", matches: "(a)\\1" })[0]).toMatch(/^\/matches .*RE2/);
  });

  it("names the source in the error message", () => {
    expect(() => parseCondition({ column: "Nope", equals: "x" }, "my-file.yaml")).toThrow(
      /condition \(my-file\.yaml\) is invalid/,
    );
  });
});
