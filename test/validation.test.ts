import { compileSchema, SchemaValidationError } from "../functions/validation";
import { problemsOf as problemsOfCall } from "./support/problems";

function problemsOf(check: (value: unknown) => unknown, value: unknown): string[] {
  return problemsOfCall(SchemaValidationError, () => check(value));
}

describe("compileSchema", () => {
  it("returns a value that fits, typed", () => {
    const check = compileSchema<{ n: number }>({ type: "object", required: ["n"] }, "thing");
    const value = { n: 1 };
    expect(check(value)).toBe(value);
  });

  it("reports every problem with its path, naming the document and its source", () => {
    const check = compileSchema(
      {
        type: "object",
        additionalProperties: false,
        properties: { kind: { enum: ["a", "b"] }, n: { type: "number" } },
      },
      "thing",
    );
    expect(() => check({ kind: "c", n: "1", extra: true }, "file.yaml")).toThrow(
      /^thing \(file\.yaml\) is invalid:/,
    );
    expect(problemsOf(check, { kind: "c", n: "1", extra: true })).toEqual([
      "(document) must NOT have additional properties 'extra'",
      "/kind must be equal to one of the allowed values (a, b)",
      "/n must be number",
    ]);
  });

  it("reports the error inside a failed if/then branch once, without ajv's echo of it", () => {
    const check = compileSchema(
      {
        type: "object",
        if: { required: ["column"] },
        then: { properties: { column: { enum: ["FileName"] } } },
      },
      "condition",
    );
    expect(problemsOf(check, { column: "FileNme" })).toEqual([
      "/column must be equal to one of the allowed values (FileName)",
    ]);
  });
});
