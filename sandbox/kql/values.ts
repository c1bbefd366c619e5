import { KqlRuntimeError } from "./errors";

// Kusto scalar values as the evaluator holds them
// (learn.microsoft.com/kusto/query/scalar-data-types/):
// - string: a JS string. Kusto strings are never null; a missing string is "" (null-values page).
// - long, int, real: a JS number (a long beyond 2^53 loses precision: no shipped query needs it).
// - bool: a JS boolean. datetime / timespan: KqlDateTime / KqlTimespan, in milliseconds.
// - dynamic: a JSON value (array, object, string, number, bool) or null.
// - null: the null value of any type but string.

const TICKS_PER_MS = 10_000;

/**
 * A Kusto datetime: whole milliseconds since the Unix epoch (UTC), and the 100 ns ticks beyond
 * them (0-9999), kept apart because a double cannot hold both at full precision.
 */
export class KqlDateTime {
  readonly ms: number;
  readonly ticks: number;
  constructor(ms: number, ticks = 0) {
    const whole = Math.floor(ms);
    const extra = Math.round((ms - whole) * TICKS_PER_MS) + ticks;
    const carry = Math.floor(extra / TICKS_PER_MS);
    this.ms = whole + carry;
    this.ticks = extra - carry * TICKS_PER_MS;
  }

  /** This instant moved by a (possibly fractional) number of milliseconds. */
  plus(deltaMs: number): KqlDateTime {
    return new KqlDateTime(
      this.ms + Math.floor(deltaMs),
      this.ticks + Math.round((deltaMs - Math.floor(deltaMs)) * TICKS_PER_MS),
    );
  }

  /** Milliseconds from `other` to this instant. */
  since(other: KqlDateTime): number {
    return this.ms - other.ms + (this.ticks - other.ticks) / TICKS_PER_MS;
  }
}

/** A Kusto timespan: a signed length of time in milliseconds (fractions allowed: 100 ns ticks). */
export class KqlTimespan {
  constructor(readonly ms: number) {}
}

export type JsonValue =
  null | string | number | boolean | JsonValue[] | { [key: string]: JsonValue };

/** One scalar value. */
export type KqlValue =
  | null
  | string
  | number
  | boolean
  | KqlDateTime
  | KqlTimespan
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A column of a result: its name and Kusto type. */
export interface Column {
  name: string;
  type: string;
}

/** One row: the values in column order, and the hidden ingestion time of the record it came from. */
export interface Row {
  values: KqlValue[];
  /** ingestion_time() of the record, ms; null once summarize/join make new records. */
  ingestionTime: number | null;
}

/** A tabular value. */
export interface Table {
  columns: Column[];
  rows: Row[];
}

export function isDynamicArray(value: KqlValue): value is JsonValue[] {
  return Array.isArray(value);
}

export function isDynamicObject(value: KqlValue): value is { [key: string]: JsonValue } {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof KqlDateTime) &&
    !(value instanceof KqlTimespan)
  );
}

/** Formats a datetime as Kusto prints it: ISO 8601 UTC with seven fractional digits. */
export function formatDateTime(value: KqlDateTime): string {
  const iso = new Date(value.ms).toISOString();
  const subMs = value.ticks;
  return iso.replace(
    /\.(\d{3})Z$/,
    (_m, millis: string) => `.${millis}${String(subMs).padStart(4, "0")}Z`,
  );
}

/** Formats a timespan as Kusto prints it: [-][d.]hh:mm:ss[.fffffff]. */
export function formatTimespan(value: KqlTimespan): string {
  const sign = value.ms < 0 ? "-" : "";
  let ticks = Math.round(Math.abs(value.ms) * TICKS_PER_MS);
  const fraction = ticks % 10_000_000;
  ticks = (ticks - fraction) / 10_000_000;
  const seconds = ticks % 60;
  const minutes = Math.floor(ticks / 60) % 60;
  const hours = Math.floor(ticks / 3600) % 24;
  const days = Math.floor(ticks / 86400);
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    sign +
    (days > 0 ? `${days}.` : "") +
    `${two(hours)}:${two(minutes)}:${two(seconds)}` +
    (fraction > 0 ? `.${String(fraction).padStart(7, "0")}` : "")
  );
}

/** JSON form of a value inside a dynamic (datetimes and timespans become their text). */
export function toJson(value: KqlValue): JsonValue {
  if (value instanceof KqlDateTime) return formatDateTime(value);
  if (value instanceof KqlTimespan) return formatTimespan(value);
  return value;
}

/** tostring(): null is "", dynamic is its JSON text, other values their Kusto text. */
export function toKqlString(value: KqlValue): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number") return numberText(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value instanceof KqlDateTime) return formatDateTime(value);
  if (value instanceof KqlTimespan) return formatTimespan(value);
  return JSON.stringify(value);
}

function numberText(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  return String(n);
}

/** Kusto's null test: string values are never null (isnull("") is false). */
export function isNull(value: KqlValue): boolean {
  return value === null;
}

/** Kusto's isempty(): null or the empty string. */
export function isEmpty(value: KqlValue): boolean {
  return value === null || value === "";
}

/** A stable key for grouping and distinct: equal Kusto values give equal keys. */
export function valueKey(value: KqlValue): string {
  if (value === null) return "n";
  if (typeof value === "string") return `s${value}`;
  if (typeof value === "number") return `d${value}`;
  if (typeof value === "boolean") return `b${value}`;
  if (value instanceof KqlDateTime) return `t${value.ms}.${value.ticks}`;
  if (value instanceof KqlTimespan) return `p${value.ms}`;
  return `j${JSON.stringify(value)}`;
}

/** Numeric view of a number, datetime or timespan (what ordering compares). */
function ordinal(value: KqlValue): number | string | undefined {
  if (typeof value === "number") return value;
  if (value instanceof KqlDateTime || value instanceof KqlTimespan) return value.ms;
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return undefined;
}

/**
 * Compares two non-null values of the same kind: negative, zero or positive; undefined when they
 * cannot be ordered (different kinds, dynamic arrays or objects). Strings compare ordinally.
 */
export function compareValues(a: KqlValue, b: KqlValue): number | undefined {
  const x = ordinal(a);
  const y = ordinal(b);
  if (x === undefined || y === undefined || typeof x !== typeof y) return undefined;
  if (a instanceof KqlDateTime !== b instanceof KqlDateTime) return undefined;
  if (a instanceof KqlTimespan !== b instanceof KqlTimespan) return undefined;
  if (typeof x === "string") return x < (y as string) ? -1 : x > (y as string) ? 1 : 0;
  if (a instanceof KqlDateTime && b instanceof KqlDateTime) return a.since(b);
  return x - (y as number);
}

/**
 * `==` (learn.microsoft.com/kusto/query/scalar-data-types/null-values): two nulls give null, null
 * and a value give false. Values of different kinds (a string and a number) are never equal.
 */
export function equalValues(a: KqlValue, b: KqlValue): boolean | null {
  if (a === null && b === null) return null;
  if (a === null || b === null) return false;
  if (isDynamicArray(a) || isDynamicObject(a) || isDynamicArray(b) || isDynamicObject(b)) {
    return JSON.stringify(a) === JSON.stringify(b);
  }
  const order = compareValues(a, b);
  return order === 0;
}

/** The boolean a predicate yields; where/iff treat null (and anything not true) as false. */
export function isTrue(value: KqlValue): boolean {
  return value === true;
}

/** A value read from a dynamic (JSON) document, as the evaluator holds it. */
export function fromJson(value: unknown): KqlValue {
  if (value === undefined) return null;
  return value as KqlValue;
}

/** Parses an ISO 8601 (or RFC 1123) datetime text; undefined when it is not one. */
export function parseDateTime(text: string): KqlDateTime | undefined {
  // Kusto accepts "2026-01-01 10:00" as well as the ISO "T" form.
  const trimmed = text.trim().replace(/^(\d{4}-\d\d-\d\d) (?=\d)/, "$1T");
  if (trimmed === "") return undefined;
  // Sub-millisecond digits (Kusto keeps 100 ns ticks): read them apart from Date.parse.
  const fraction = /^(.*T\d\d:\d\d:\d\d)\.(\d+)(Z|[+-]\d\d:?\d\d)?$/.exec(trimmed);
  if (fraction) {
    const [, head, digits, zone] = fraction;
    const ms = Date.parse(`${head}${zone ?? "Z"}`);
    if (Number.isNaN(ms)) return undefined;
    // Seven digits at most: 100 ns ticks.
    const ticks = Number(digits.slice(0, 7).padEnd(7, "0"));
    return new KqlDateTime(ms, ticks);
  }
  const dateOnly = /^\d{4}-\d\d-\d\d$/.test(trimmed);
  const hasZone = /(Z|[+-]\d\d:?\d\d|GMT|UTC)$/i.test(trimmed);
  const ms = Date.parse(dateOnly || hasZone ? trimmed : `${trimmed}Z`);
  return Number.isNaN(ms) ? undefined : new KqlDateTime(ms);
}

/** Converts a value to a datetime as todatetime() does: null when it is not one. */
export function toDateTime(value: KqlValue): KqlDateTime | null {
  if (value instanceof KqlDateTime) return value;
  if (typeof value === "string") return parseDateTime(value) ?? null;
  return null;
}

/** Converts a value to a long as tolong() does: null when it is not a number. */
export function toLong(value: KqlValue): number | null {
  if (value === null) return null;
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string") {
    const text = value.trim();
    if (!/^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) return null;
    return Math.trunc(Number(text));
  }
  if (value instanceof KqlDateTime) return value.ms * TICKS_PER_MS + value.ticks;
  if (value instanceof KqlTimespan) return Math.round(value.ms * TICKS_PER_MS);
  return null;
}

/** Converts a value to a real as toreal() does. */
export function toReal(value: KqlValue): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const n = Number(value.trim());
    return value.trim() === "" || Number.isNaN(n) ? null : n;
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  return null;
}

/** A stored event's cell, typed by its column (events arrive as JSON: datetimes are text). */
export function fromStored(raw: unknown, type: string, column: string): KqlValue {
  if (type === "string") {
    if (raw === undefined || raw === null) return "";
    return typeof raw === "string" ? raw : JSON.stringify(raw);
  }
  if (raw === undefined || raw === null || raw === "") return null;
  switch (type) {
    case "datetime": {
      const parsed = typeof raw === "string" ? parseDateTime(raw) : undefined;
      if (!parsed)
        throw new KqlRuntimeError(`column ${column}: ${JSON.stringify(raw)} is not a datetime`);
      return parsed;
    }
    case "long":
    case "int":
    case "real": {
      const n = typeof raw === "number" ? raw : Number(raw);
      if (!Number.isFinite(n))
        throw new KqlRuntimeError(`column ${column}: ${JSON.stringify(raw)} is not a ${type}`);
      return n;
    }
    case "bool":
      return raw === true || (typeof raw === "string" && raw.toLowerCase() === "true");
    case "dynamic":
      return typeof raw === "string" ? parseJsonText(raw) : (raw as KqlValue);
    default:
      return typeof raw === "string" ? raw : JSON.stringify(raw);
  }
}

/** parse_json(): the JSON document in a string, or the string itself when it is not JSON. */
export function parseJsonText(text: string): KqlValue {
  try {
    return JSON.parse(text) as KqlValue;
  } catch {
    return text;
  }
}

/** The text the query API sends for a cell (see logAnalyticsWire.resultTable). */
export function toWireText(value: KqlValue, type: string): string | undefined {
  if (value === null) return undefined;
  if (type === "dynamic") return JSON.stringify(toJson(value));
  return toKqlString(value);
}
