// Triage conditions: a small, case-insensitive test language over DetectionEvent columns, shared
// by the benign scenarios (functions/detections/nbtscan.benign.yaml) and the exclusions.
//
// Format (JSON or YAML; JSON Schema: condition.schema.json, validated with ajv at load):
//
//   leaf  { column: <column>, <operator>: <value> }        exactly one operator per leaf
//           equals     the value equals the string (or any string of a list)
//           notEquals  the value equals none of the strings
//           contains   the value contains the substring (or any of a list); "" is rejected
//           matches    the regular expression (RE2 syntax, see below) is found anywhere in
//                      the value; anchor with ^...$ for the whole value, use \b for whole words
//   all   { all: [<condition>, ...] }                      every nested condition matches
//   any   { any: [<condition>, ...] }                      at least one matches
//
//   <column> is a DetectionEvent column name exactly as the KQL projects it (EVENT_COLUMNS):
//   FileName, FolderPath, ProcessCommandLine, InitiatingProcessFileName,
//   InitiatingProcessCommandLine, InitiatingProcessParentFileName, DeviceName, ...
//
//   Example (YAML):
//     any:
//       - { column: InitiatingProcessParentFileName, equals: [taskeng.exe, taskhostw.exe] }
//       - { column: ProcessCommandLine, matches: '\binventory\b' }
//
// Every comparison ignores case; a null column reads as "". An unknown column or operator, two
// operators in one leaf, an empty list and an invalid regular expression are errors at load that
// name the JSON path, never a rule that silently never matches. Regular expressions are compiled
// once, at load. Evaluation reports the columns that made the condition match, for annotation.
//
// Regular expressions run on RE2JS, a JavaScript port of RE2: matching takes time linear in the
// value's length whatever the pattern, so an attacker-chosen 32,767-character command line can
// never make a pattern like (a+)+$ backtrack for ever. RE2 syntax is JavaScript's without the
// features that need backtracking: no lookahead or lookbehind ((?=, (?!, (?<=, (?<!) and no
// backreferences (\1); such a pattern is rejected at load. Classes (\d \w \s [a-z]), \b,
// anchors, groups, alternation and bounded repeats ({2,5}, at most 1000) work as in JavaScript.
import { RE2JS } from "re2js";
import { EVENT_COLUMNS, type DetectionEvent, type EventColumn } from "../model";
import { compileSchema, SchemaValidationError } from "../validation";
import { columnValue } from "./columns";
import conditionSchemaFile from "./condition.schema.json";

/** One value, or a list meaning "any of these". */
export type StringOrList = string | string[];

/** A test on one column: the column and exactly one operator. */
export type LeafCondition =
  | { column: EventColumn; equals: StringOrList }
  | { column: EventColumn; notEquals: StringOrList }
  | { column: EventColumn; contains: StringOrList }
  | { column: EventColumn; matches: string };

/** Every nested condition must match. */
export interface AllCondition {
  all: Condition[];
}

/** At least one nested condition must match. */
export interface AnyCondition {
  any: Condition[];
}

/** A condition document, as written in YAML or JSON. */
export type Condition = LeafCondition | AllCondition | AnyCondition;

/** A condition ready to evaluate: values lower-cased, regular expressions compiled. */
export type CompiledCondition =
  | { op: "equals" | "notEquals" | "contains"; column: EventColumn; values: readonly string[] }
  | { op: "matches"; column: EventColumn; regex: RE2JS }
  | { op: "all" | "any"; conditions: readonly CompiledCondition[] };

/** Whether a condition matched an event, and the columns that made it match. */
export interface ConditionResult {
  matched: boolean;
  fields: EventColumn[];
}

/** The condition JSON Schema, with the column enum filled in from EVENT_COLUMNS. */
export const CONDITION_SCHEMA: object = {
  ...conditionSchemaFile,
  definitions: {
    ...conditionSchemaFile.definitions,
    column: { ...conditionSchemaFile.definitions.column, enum: [...EVENT_COLUMNS] },
  },
};

/** Embeds the condition schema in a schema that refers to it as "condition.schema.json". */
export function withConditionSchema(schema: Record<string, unknown>): object {
  // JSON Schema bundling: an embedded resource with its own $id satisfies the relative $ref.
  const definitions = typeof schema.definitions === "object" ? schema.definitions : {};
  return {
    ...schema,
    definitions: { ...definitions, "condition.schema.json": CONDITION_SCHEMA },
  };
}

const validateConditionDocument = compileSchema<Condition>(CONDITION_SCHEMA, "condition");

function noMatch(): ConditionResult {
  return { matched: false, fields: [] };
}

const LEAF_OPERATORS = ["equals", "notEquals", "contains", "matches"] as const;
type LeafOperator = (typeof LEAF_OPERATORS)[number];

function isAll(condition: Condition): condition is AllCondition {
  return "all" in condition;
}

function isAny(condition: Condition): condition is AnyCondition {
  return "any" in condition;
}

function leafParts(leaf: LeafCondition): { op: LeafOperator; value: StringOrList } {
  const fields: Partial<Record<LeafOperator, StringOrList>> = leaf;
  for (const op of LEAF_OPERATORS) {
    const value = fields[op];
    if (value !== undefined) return { op, value };
  }
  // The schema guarantees exactly one operator; this guards hand-built conditions.
  throw new Error(`condition on ${leaf.column} has no operator`);
}

/** Compiles a `matches` pattern: RE2 syntax, case-insensitive, linear-time matching. */
function compileRegex(pattern: string): RE2JS {
  return RE2JS.compile(pattern, RE2JS.CASE_INSENSITIVE);
}

function regexProblem(pattern: string): string | undefined {
  try {
    compileRegex(pattern);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Lists the invalid regular expressions of a schema-valid condition, each with its JSON path. */
export function conditionProblems(condition: Condition, pointer = ""): string[] {
  if (isAll(condition)) {
    return condition.all.flatMap((c, i) => conditionProblems(c, `${pointer}/all/${i}`));
  }
  if (isAny(condition)) {
    return condition.any.flatMap((c, i) => conditionProblems(c, `${pointer}/any/${i}`));
  }
  const { op, value } = leafParts(condition);
  if (op !== "matches") return [];
  const pattern = String(value);
  const problem = regexProblem(pattern);
  return problem === undefined
    ? []
    : [`${pointer}/matches is not a valid regular expression (RE2 syntax): ${problem}`];
}

/** Compiles a schema-valid condition: lower-cases values and compiles regexes once. */
export function compileCondition(condition: Condition): CompiledCondition {
  if (isAll(condition)) return { op: "all", conditions: condition.all.map(compileCondition) };
  if (isAny(condition)) return { op: "any", conditions: condition.any.map(compileCondition) };
  const { op, value } = leafParts(condition);
  if (op === "matches") return { op, column: condition.column, regex: compileRegex(String(value)) };
  const values = (Array.isArray(value) ? value : [value]).map((v) => v.toLowerCase());
  return { op, column: condition.column, values };
}

/** Validates a condition document against the schema, checks its regexes, and compiles it. */
export function parseCondition(value: unknown, source?: string): CompiledCondition {
  const condition = validateConditionDocument(value, source);
  const problems = conditionProblems(condition);
  if (problems.length > 0) {
    throw new SchemaValidationError(source ? `condition (${source})` : "condition", problems);
  }
  return compileCondition(condition);
}

function leafMatches(
  condition: Extract<CompiledCondition, { column: EventColumn }>,
  value: string,
): boolean {
  switch (condition.op) {
    case "matches":
      return condition.regex.test(value);
    case "equals":
      return condition.values.includes(value.toLowerCase());
    case "notEquals":
      return !condition.values.includes(value.toLowerCase());
    case "contains": {
      const lower = value.toLowerCase();
      return condition.values.some((v) => lower.includes(v));
    }
  }
}

function unique(fields: EventColumn[]): EventColumn[] {
  return [...new Set(fields)];
}

/** Evaluates a compiled condition against an event; pure. */
export function evaluateCondition(
  condition: CompiledCondition,
  event: DetectionEvent,
): ConditionResult {
  switch (condition.op) {
    case "all": {
      const fields: EventColumn[] = [];
      for (const nested of condition.conditions) {
        const result = evaluateCondition(nested, event);
        if (!result.matched) return noMatch();
        fields.push(...result.fields);
      }
      return { matched: true, fields: unique(fields) };
    }
    case "any": {
      // No short-circuit: every matching branch's columns go into the annotation.
      const matches = condition.conditions
        .map((nested) => evaluateCondition(nested, event))
        .filter((result) => result.matched);
      return matches.length === 0
        ? noMatch()
        : { matched: true, fields: unique(matches.flatMap((m) => m.fields)) };
    }
    default:
      return leafMatches(condition, columnValue(event, condition.column))
        ? { matched: true, fields: [condition.column] }
        : noMatch();
  }
}
