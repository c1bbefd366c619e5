import { KqlRuntimeError } from "./errors";
import { extractGroup } from "./strings";
import {
  isDynamicArray,
  isEmpty,
  isNull,
  KqlDateTime,
  KqlTimespan,
  parseJsonText,
  toDateTime,
  toJson,
  toKqlString,
  toLong,
  toReal,
  type KqlValue,
} from "./values";

// The scalar functions of the local engine. Each follows its page under
// learn.microsoft.com/kusto/query/ (named beside it); conformance tests in test/sandbox/kql cite
// the same pages. Arguments arrive evaluated; the analyser has already checked their count and
// types, so a function here only handles values.

/** What a function may read besides its arguments. */
export interface CallContext {
  /** The query's now(): one instant for the whole query (now-function page). */
  now: number;
  /** ingestion_time() of the current record, ms; null when it has none. */
  ingestionTime: number | null;
  /** The result type the analyser gave the call (e.g. "int" for toint). */
  resultType?: string;
}

type ScalarFunction = (args: KqlValue[], context: CallContext) => KqlValue;

const stringArg = (value: KqlValue): string => toKqlString(value);

/** bin(value, roundTo) (bin-function page): rounds down to a multiple of roundTo. */
function bin([value, size]: KqlValue[]): KqlValue {
  if (value === null || size === null) return null;
  if (value instanceof KqlDateTime && size instanceof KqlTimespan) {
    if (size.ms <= 0) return null;
    const sinceEpoch = value.since(new KqlDateTime(0));
    return new KqlDateTime(0).plus(Math.floor(sinceEpoch / size.ms) * size.ms);
  }
  if (value instanceof KqlTimespan && size instanceof KqlTimespan) {
    if (size.ms <= 0) return null;
    return new KqlTimespan(Math.floor(value.ms / size.ms) * size.ms);
  }
  if (typeof value === "number" && typeof size === "number") {
    if (size <= 0) return null;
    return Math.floor(value / size) * size;
  }
  throw new KqlRuntimeError("bin(): the value and the bin size must be of matching kinds");
}

/** split(source, delimiter[, index]) (split-function page): a dynamic array of strings. */
function split([source, delimiter, index]: KqlValue[]): KqlValue {
  const parts = stringArg(source).split(stringArg(delimiter));
  if (index === undefined) return parts;
  const i = toLong(index ?? null);
  if (i === null || i < 0) throw new KqlRuntimeError("split(): the index must be non-negative");
  // With an index the result is still an array: the one part, or empty when out of range.
  return i < parts.length ? [parts[i]] : [];
}

/** extract(regex, captureGroup, source[, type]) (extract-function page). */
function extract([pattern, group, source]: KqlValue[], context: CallContext): KqlValue {
  const g = toLong(group);
  if (g === null) return null;
  const found = extractGroup(stringArg(pattern), g, stringArg(source));
  if (found === undefined)
    return context.resultType === "string" || !context.resultType ? "" : null;
  return convertTo(found, context.resultType ?? "string");
}

function convertTo(text: string, type: string): KqlValue {
  switch (type) {
    case "long":
    case "int":
      return toLong(text);
    case "real":
      return toReal(text);
    case "datetime":
      return toDateTime(text);
    default:
      return text;
  }
}

/** case(p1, v1, ..., else) (case-function page): the value of the first true predicate. */
function caseFunction(args: KqlValue[]): KqlValue {
  for (let i = 0; i + 1 < args.length; i += 2) if (args[i] === true) return args[i + 1];
  return args[args.length - 1];
}

/** coalesce(...) (coalesce-function page): the first value that is not null (or not ""). */
function coalesce(args: KqlValue[]): KqlValue {
  for (const value of args) if (!isEmpty(value)) return value;
  return typeof args[0] === "string" ? "" : null;
}

/** toint()/tolong() (toint-function, tolong-function pages): null when not convertible. */
function toInteger([value]: KqlValue[], context: CallContext): KqlValue {
  const n = toLong(value);
  if (n === null || context.resultType !== "int") return n;
  // int is 32 bits: a larger value does not fit (the function gives null rather than wrapping).
  return n > 2147483647 || n < -2147483648 ? null : n;
}

/** parse_json()/todynamic() (parse-json-function page): a string's JSON, other values as is. */
function parseJson([value]: KqlValue[]): KqlValue {
  if (typeof value === "string") return parseJsonText(value);
  if (value instanceof KqlDateTime || value instanceof KqlTimespan) return toJson(value);
  return value;
}

function packArray(args: KqlValue[]): KqlValue {
  return args.map((a) => toJson(a));
}

const FUNCTIONS: Record<string, ScalarFunction> = {
  // ingestion-time-function page: the record's ingestion time; null without one.
  ingestion_time: (_args, c) =>
    c.ingestionTime === null ? null : new KqlDateTime(c.ingestionTime),
  now: ([offset], c) => new KqlDateTime(c.now + (offset instanceof KqlTimespan ? offset.ms : 0)),
  ago: ([span], c) => (span instanceof KqlTimespan ? new KqlDateTime(c.now - span.ms) : null),
  isempty: ([v]) => isEmpty(v),
  isnotempty: ([v]) => !isEmpty(v),
  isnull: ([v]) => isNull(v),
  isnotnull: ([v]) => !isNull(v),
  tolower: ([v]) => stringArg(v).toLowerCase(),
  toupper: ([v]) => stringArg(v).toUpperCase(),
  // strlen-function page: the length in Unicode characters (code points), not UTF-16 units.
  strlen: ([v]) => [...stringArg(v)].length,
  tostring: ([v]) => toKqlString(v),
  toint: toInteger,
  tolong: toInteger,
  toreal: ([v]) => toReal(v),
  todouble: ([v]) => toReal(v),
  todatetime: ([v]) => toDateTime(v),
  strcat: (args) => args.map(stringArg).join(""),
  split,
  extract,
  iff: ([p, a, b]) => (p === true ? a : b),
  iif: ([p, a, b]) => (p === true ? a : b),
  case: caseFunction,
  coalesce,
  parse_json: parseJson,
  todynamic: parseJson,
  // array-length-function page: null when the value is not an array.
  array_length: ([v]) => (isDynamicArray(v) ? v.length : null),
  bin,
  floor: bin,
  pack_array: packArray,
  not: ([v]) => (v === null ? null : v !== true),
};

/** The implementation of a scalar function, or undefined when the local engine lacks it. */
export function scalarFunction(name: string): ScalarFunction | undefined {
  return Object.prototype.hasOwnProperty.call(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
}

/** Names of the scalar functions the local engine evaluates. */
export const SCALAR_FUNCTIONS: readonly string[] = Object.keys(FUNCTIONS);

/** A dynamic value's property or element (d.name, d["name"], d[0], d[-1]); null when absent. */
export function dynamicMember(value: KqlValue, key: KqlValue): KqlValue {
  if (isDynamicArray(value)) {
    const index = toLong(key);
    if (index === null) return null;
    const i = index < 0 ? value.length + index : index;
    return i >= 0 && i < value.length ? value[i] : null;
  }
  if (
    value !== null &&
    typeof value === "object" &&
    !(value instanceof KqlDateTime) &&
    !(value instanceof KqlTimespan)
  ) {
    const record = value;
    const name = toKqlString(key);
    return Object.prototype.hasOwnProperty.call(record, name) ? record[name] : null;
  }
  return null;
}
