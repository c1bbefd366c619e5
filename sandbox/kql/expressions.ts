import { KqlRuntimeError, KqlUnsupportedError } from "./errors";
import { dynamicMember, scalarFunction } from "./scalarFunctions";
import {
  contains,
  endsWith,
  equalsIgnoreCase,
  fold,
  has,
  hasPrefix,
  hasSuffix,
  matchesRegex,
  startsWith,
} from "./strings";
import { isRowIndependent, isToken, listItems, nameOf, parts, type KqlNode } from "./syntax";
import {
  compareValues,
  equalValues,
  isDynamicArray,
  KqlDateTime,
  KqlTimespan,
  parseDateTime,
  toKqlString,
  type KqlValue,
  type Row,
  type Table,
} from "./values";

// Scalar expressions: literals, names, operators and function calls, evaluated for one row.
// Operator semantics: learn.microsoft.com/kusto/query/datatypes-string-operators (string
// operators), .../in-operator, .../between-operator, .../logical-operators,
// .../numerical-operators, .../datetime-timespan-arithmetic, .../scalar-data-types/null-values.

/** What a let statement bound: a scalar value or a table. */
export type Binding = { kind: "scalar"; value: KqlValue } | { kind: "tabular"; table: () => Table };

/** Everything outside the row that an expression may read. */
export interface Environment {
  /** now() for the whole query, ms. */
  now: number;
  lets: Map<string, Binding>;
  /** Values of row-independent lists (`in (...)`), computed once per query. */
  constants: Map<KqlNode, KqlValue[]>;
  /** Evaluates a tabular expression (a sub-query in `in`, toscalar, a let-bound table). */
  tabular(node: KqlNode, env: Environment): Table;
}

/** The row an expression is evaluated against, and where its columns are. */
export interface RowScope {
  columns: Map<string, number>;
  row: Row | null;
}

/** A scope with no row (print, let values). */
export const NO_ROW: RowScope = { columns: new Map(), row: null };

/** Column name → index, for a table's columns. */
export function columnIndex(table: { columns: { name: string }[] }): Map<string, number> {
  return new Map(table.columns.map((c, i) => [c.name, i]));
}

const TICKS_PER_MS = 10_000;

/** A literal's value from Kusto.Language's reading of it. */
function literal(node: KqlNode): KqlValue {
  const boxed = node.literal as { v?: unknown; ticks?: unknown } | string | null | undefined;
  switch (node.kind) {
    case "StringLiteralExpression":
      return typeof boxed === "string" ? boxed : "";
    case "LongLiteralExpression":
    case "IntLiteralExpression":
    case "RealLiteralExpression":
    case "DecimalLiteralExpression": {
      if (isNullLiteral(node)) return null; // long(null), int(null), real(null)
      const n = Number(node.literalText);
      if (!Number.isFinite(n))
        throw new KqlUnsupportedError(`the number literal '${tokenText(node)}'`);
      return n;
    }
    case "BooleanLiteralExpression":
      if (isNullLiteral(node)) return null;
      return compact(tokenText(node)) === "true";
    case "DateTimeLiteralExpression": {
      const inner = typeof boxed === "object" && boxed !== null ? boxed.v : undefined;
      if (inner === undefined || inner === null) {
        if (isNullLiteral(node)) return null;
        throw new KqlRuntimeError(`'${tokenText(node)}' is not a valid datetime literal`);
      }
      const ms = new Date(inner as string | number | Date).getTime();
      // The analyser's value holds milliseconds; its text keeps the 100 ns ticks beyond them.
      const precise = node.literalText === undefined ? undefined : parseDateTime(node.literalText);
      if (precise && precise.ms === ms) return precise;
      // Kusto.Language reads an unparsable datetime as .NET DateTime.MinValue.
      if (Number.isNaN(ms) || ms === -62135596800000) {
        throw new KqlRuntimeError(`'${tokenText(node)}' is not a valid datetime literal`);
      }
      return new KqlDateTime(ms);
    }
    case "TimespanLiteralExpression": {
      const ticks = typeof boxed === "object" && boxed !== null ? Number(String(boxed.ticks)) : NaN;
      if (!Number.isFinite(ticks)) return null;
      // Kusto.Language reads the timespan(d.hh:mm:ss) form as zero; only plain 0 may be zero.
      if (ticks === 0 && [...tokenText(node)].some((ch) => ch >= "1" && ch <= "9")) {
        throw new KqlUnsupportedError(`the timespan literal form '${tokenText(node)}'`);
      }
      return new KqlTimespan(ticks / TICKS_PER_MS);
    }
    case "GuidLiteralExpression":
      return node.literalText ?? null;
    case "NullLiteralExpression":
      return null;
    default:
      throw new KqlUnsupportedError(`the literal '${tokenText(node)}'`);
  }
}

/** T(null): the null literal of a type (null-values page). */
function isNullLiteral(node: KqlNode): boolean {
  return compact(tokenText(node)).endsWith("(null)");
}

function compact(text: string): string {
  return [...text]
    .filter((ch) => ch.trim() !== "")
    .join("")
    .toLowerCase();
}

function tokenText(node: KqlNode): string {
  if (isToken(node)) return node.text;
  return node.children.map(tokenText).join("");
}

/** A short description of a node for messages: its keyword or its first token. */
export function describe(node: KqlNode): string {
  return tokenText(node).trim().slice(0, 60);
}

function dynamicLiteral(node: KqlNode): KqlValue {
  const text = typeof node.literal === "string" ? node.literal : "null";
  return JSON.parse(text) as KqlValue;
}

/** Evaluates a scalar expression against one row. */
export function evalScalar(node: KqlNode, scope: RowScope, env: Environment): KqlValue {
  const kids = parts(node);
  const operand = (i: number) => evalScalar(kids[i], scope, env);
  switch (node.kind) {
    case "ParenthesizedExpression":
      return operand(0);
    case "StringLiteralExpression":
    case "LongLiteralExpression":
    case "IntLiteralExpression":
    case "RealLiteralExpression":
    case "DecimalLiteralExpression":
    case "BooleanLiteralExpression":
    case "DateTimeLiteralExpression":
    case "TimespanLiteralExpression":
    case "GuidLiteralExpression":
    case "NullLiteralExpression":
      return literal(node);
    case "DynamicExpression":
      return dynamicLiteral(node);
    case "TypeOfLiteralExpression":
      // typeof(long) as extract()'s last argument: the analyser's result type carries it.
      return null;
    case "NameReference":
      return nameValue(node, scope, env);
    case "PathExpression":
      return dynamicMember(operand(0), nameOf(kids[1]));
    case "ElementExpression": {
      const bracket = kids[1];
      return dynamicMember(operand(0), evalScalar(parts(bracket)[0], scope, env));
    }
    case "FunctionCallExpression":
      return callFunction(node, scope, env);
    case "ToScalarExpression":
      return firstCell(env.tabular(kids[0], env));
    case "AndExpression":
      return and(operand(0), operand(1));
    case "OrExpression":
      return or(operand(0), operand(1));
    case "EqualExpression":
      return equalValues(operand(0), operand(1));
    case "NotEqualExpression":
      return notEqual(operand(0), operand(1));
    case "EqualTildeExpression":
      return stringOp(operand(0), operand(1), equalsIgnoreCase);
    case "BangTildeExpression":
      return !stringOp(operand(0), operand(1), equalsIgnoreCase);
    case "LessThanExpression":
      return order(operand(0), operand(1), (c) => c < 0);
    case "LessThanOrEqualExpression":
      return order(operand(0), operand(1), (c) => c <= 0);
    case "GreaterThanExpression":
      return order(operand(0), operand(1), (c) => c > 0);
    case "GreaterThanOrEqualExpression":
      return order(operand(0), operand(1), (c) => c >= 0);
    case "AddExpression":
    case "SubtractExpression":
    case "MultiplyExpression":
    case "DivideExpression":
    case "ModuloExpression":
      return arithmetic(node.kind, operand(0), operand(1), node.type);
    case "UnaryMinusExpression":
      return negate(operand(0));
    case "UnaryPlusExpression":
      return operand(0);
    case "HasExpression":
      return stringOp(operand(0), operand(1), (a, b) => has(a, b));
    case "NotHasExpression":
      return !stringOp(operand(0), operand(1), (a, b) => has(a, b));
    case "HasCsExpression":
      return stringOp(operand(0), operand(1), (a, b) => has(a, b, true));
    case "NotHasCsExpression":
      return !stringOp(operand(0), operand(1), (a, b) => has(a, b, true));
    case "HasPrefixExpression":
      return stringOp(operand(0), operand(1), (a, b) => hasPrefix(a, b));
    case "NotHasPrefixExpression":
      return !stringOp(operand(0), operand(1), (a, b) => hasPrefix(a, b));
    case "HasSuffixExpression":
      return stringOp(operand(0), operand(1), (a, b) => hasSuffix(a, b));
    case "NotHasSuffixExpression":
      return !stringOp(operand(0), operand(1), (a, b) => hasSuffix(a, b));
    case "ContainsExpression":
      return stringOp(operand(0), operand(1), (a, b) => contains(a, b));
    case "NotContainsExpression":
      return !stringOp(operand(0), operand(1), (a, b) => contains(a, b));
    case "ContainsCsExpression":
      return stringOp(operand(0), operand(1), (a, b) => contains(a, b, true));
    case "NotContainsCsExpression":
      return !stringOp(operand(0), operand(1), (a, b) => contains(a, b, true));
    case "StartsWithExpression":
      return stringOp(operand(0), operand(1), (a, b) => startsWith(a, b));
    case "NotStartsWithExpression":
      return !stringOp(operand(0), operand(1), (a, b) => startsWith(a, b));
    case "StartsWithCsExpression":
      return stringOp(operand(0), operand(1), (a, b) => startsWith(a, b, true));
    case "NotStartsWithCsExpression":
      return !stringOp(operand(0), operand(1), (a, b) => startsWith(a, b, true));
    case "EndsWithExpression":
      return stringOp(operand(0), operand(1), (a, b) => endsWith(a, b));
    case "NotEndsWithExpression":
      return !stringOp(operand(0), operand(1), (a, b) => endsWith(a, b));
    case "EndsWithCsExpression":
      return stringOp(operand(0), operand(1), (a, b) => endsWith(a, b, true));
    case "NotEndsWithCsExpression":
      return !stringOp(operand(0), operand(1), (a, b) => endsWith(a, b, true));
    case "MatchesRegexExpression":
      return stringOp(operand(0), operand(1), matchesRegex);
    case "InExpression":
      return inList(operand(0), listValues(kids[1], scope, env), false);
    case "NotInExpression":
      return !inList(operand(0), listValues(kids[1], scope, env), false);
    case "InCsExpression":
      return inList(operand(0), listValues(kids[1], scope, env), true);
    case "NotInCsExpression":
      return !inList(operand(0), listValues(kids[1], scope, env), true);
    case "HasAnyExpression":
      return listValues(kids[1], scope, env).some((v) =>
        stringOp(operand(0), v, (a, b) => has(a, b)),
      );
    case "HasAllExpression":
      return listValues(kids[1], scope, env).every((v) =>
        stringOp(operand(0), v, (a, b) => has(a, b)),
      );
    case "BetweenExpression":
      return between(operand(0), kids[1], scope, env);
    case "NotBetweenExpression": {
      const inside = between(operand(0), kids[1], scope, env);
      return inside === null ? null : !inside;
    }
    default:
      throw new KqlUnsupportedError(`the expression '${describe(node)}' (${node.kind})`);
  }
}

function nameValue(node: KqlNode, scope: RowScope, env: Environment): KqlValue {
  const name = nameOf(node);
  if (node.ref?.kind === "Column" || (!node.ref && scope.columns.has(name))) {
    const index = scope.columns.get(name);
    if (index === undefined || !scope.row)
      throw new KqlRuntimeError(`column '${name}' is not available here`);
    return scope.row.values[index];
  }
  const bound = env.lets.get(name);
  if (bound?.kind === "scalar") return bound.value;
  if (bound?.kind === "tabular") throw new KqlRuntimeError(`'${name}' is a table, not a scalar`);
  throw new KqlUnsupportedError(`the name '${name}' (${node.ref?.kind ?? "unresolved"})`);
}

function callFunction(node: KqlNode, scope: RowScope, env: Environment): KqlValue {
  const [nameNode, argList] = parts(node);
  const name = nameOf(nameNode);
  const implementation = scalarFunction(name);
  if (!implementation) throw new KqlUnsupportedError(`the function ${name}()`);
  const args = listItems(parts(argList)[0]).map((a) => evalScalar(a, scope, env));
  return implementation(args, {
    now: env.now,
    ingestionTime: scope.row?.ingestionTime ?? null,
    resultType: node.type,
  });
}

/** toscalar(): the first column of the first row; null for an empty table. */
export function firstCell(table: Table): KqlValue {
  return table.rows[0]?.values[0] ?? null;
}

/** The values an `in`/`has_any` list stands for: dynamic arrays and sub-queries are expanded. */
function listValues(list: KqlNode, scope: RowScope, env: Environment): KqlValue[] {
  // A list that reads no column (constants, lets, sub-queries) is evaluated once per query.
  const constant = isRowIndependent(list);
  if (constant) {
    const cached = env.constants.get(list);
    if (cached) return cached;
  }
  const values: KqlValue[] = [];
  for (const item of listItems(parts(list)[0])) {
    if (item.columns) {
      const table = env.tabular(item, env);
      for (const row of table.rows) values.push(row.values[0]);
      continue;
    }
    const value = evalScalar(item, scope, env);
    if (isDynamicArray(value)) values.push(...(value as KqlValue[]));
    else values.push(value);
  }
  if (constant) env.constants.set(list, values);
  return values;
}

/** `in`/`in~` (in-operator page): equality with any element; `in~` ignores case. */
function inList(value: KqlValue, list: KqlValue[], ignoreCase: boolean): boolean {
  if (ignoreCase) {
    const folded = fold(toKqlString(value));
    return list.some((v) => v !== null && fold(toKqlString(v)) === folded);
  }
  return list.some((v) => equalValues(value, v) === true);
}

/** String operators read their operands as strings (null reads as ""). */
function stringOp(a: KqlValue, b: KqlValue, test: (a: string, b: string) => boolean): boolean {
  return test(toKqlString(a), toKqlString(b));
}

/** Logical operators (logical-operators page) with null as "unknown". */
function and(a: KqlValue, b: KqlValue): KqlValue {
  if (a === false || b === false) return false;
  if (a === null || b === null) return null;
  return a === true && b === true;
}

function or(a: KqlValue, b: KqlValue): KqlValue {
  if (a === true || b === true) return true;
  if (a === null || b === null) return null;
  return false;
}

/** `!=` (null-values page): two nulls give null, null and a value give true. */
function notEqual(a: KqlValue, b: KqlValue): KqlValue {
  const equal = equalValues(a, b);
  return equal === null ? null : !equal;
}

function order(a: KqlValue, b: KqlValue, test: (c: number) => boolean): KqlValue {
  if (a === null || b === null) return null;
  const c = compareValues(a, b);
  if (c === undefined) throw new KqlRuntimeError("cannot compare values of different types");
  return test(c);
}

function negate(value: KqlValue): KqlValue {
  if (value === null) return null;
  if (typeof value === "number") return -value;
  if (value instanceof KqlTimespan) return new KqlTimespan(-value.ms);
  throw new KqlRuntimeError("unary minus needs a number or a timespan");
}

/**
 * Arithmetic (numerical-operators and datetime-timespan-arithmetic pages): datetime - datetime
 * is a timespan; datetime ± timespan a datetime; timespan ± timespan, timespan × number and
 * timespan / number timespans; timespan / timespan a real; long / long divides as integers.
 * A null operand gives null.
 */
function arithmetic(kind: string, a: KqlValue, b: KqlValue, resultType?: string): KqlValue {
  if (a === null || b === null) return null;
  const op = kind.replace("Expression", "");
  if (typeof a === "number" && typeof b === "number") {
    switch (op) {
      case "Add":
        return a + b;
      case "Subtract":
        return a - b;
      case "Multiply":
        return a * b;
      case "Divide":
        if (resultType === "long" || resultType === "int")
          return b === 0 ? null : Math.trunc(a / b);
        return a / b;
      case "Modulo":
        return b === 0 ? null : a % b;
    }
  }
  if (a instanceof KqlDateTime && b instanceof KqlDateTime && op === "Subtract") {
    return new KqlTimespan(a.since(b));
  }
  if (a instanceof KqlDateTime && b instanceof KqlTimespan) {
    if (op === "Add") return a.plus(b.ms);
    if (op === "Subtract") return a.plus(-b.ms);
  }
  if (a instanceof KqlTimespan && b instanceof KqlDateTime && op === "Add") {
    return b.plus(a.ms);
  }
  if (a instanceof KqlTimespan && b instanceof KqlTimespan) {
    if (op === "Add") return new KqlTimespan(a.ms + b.ms);
    if (op === "Subtract") return new KqlTimespan(a.ms - b.ms);
    if (op === "Divide") return b.ms === 0 ? null : a.ms / b.ms;
  }
  if (a instanceof KqlTimespan && typeof b === "number") {
    if (op === "Multiply") return new KqlTimespan(a.ms * b);
    if (op === "Divide") return b === 0 ? null : new KqlTimespan(a.ms / b);
  }
  if (typeof a === "number" && b instanceof KqlTimespan && op === "Multiply") {
    return new KqlTimespan(a * b.ms);
  }
  throw new KqlRuntimeError(`${op.toLowerCase()} is not defined for these operand types`);
}

/**
 * `between (lo .. hi)` (between-operator page): inclusive at both ends; for a datetime, `hi` may
 * be a timespan, read as lo + hi.
 */
function between(value: KqlValue, couple: KqlNode, scope: RowScope, env: Environment): KqlValue {
  const [loNode, hiNode] = parts(couple);
  const lo = evalScalar(loNode, scope, env);
  let hi = evalScalar(hiNode, scope, env);
  if (value === null || lo === null || hi === null) return null;
  if (lo instanceof KqlDateTime && hi instanceof KqlTimespan) hi = lo.plus(hi.ms);
  const low = compareValues(value, lo);
  const high = compareValues(value, hi);
  if (low === undefined || high === undefined) {
    throw new KqlRuntimeError("between: the value and its bounds must be of the same type");
  }
  return low >= 0 && high <= 0;
}
