import { compareValues, isNull, toJson, valueKey, type JsonValue, type KqlValue } from "./values";

// Aggregation functions of `summarize` (learn.microsoft.com/kusto/query/aggregation-functions).
// Null values are ignored by every aggregate that takes a value (null-values page, "Null values
// and aggregation functions"); an empty group gives count 0 and null for the others.
// dcount() is exact here: the service estimates it (HyperLogLog), with an error well under 1% at
// the sizes the sandbox holds, so a count the engine gets right is what the service gives.

/** One aggregate over a group: fed each row's argument values, then asked for its result. */
export interface Aggregator {
  add(args: KqlValue[], rowIndex: number): void;
  result(): KqlValue;
  /** arg_min/arg_max: the row they chose (index into the group's input), if any. */
  chosenRow?(): number | undefined;
}

function extreme(pick: (order: number) => boolean): () => Aggregator {
  return () => {
    let best: KqlValue = null;
    let row: number | undefined;
    return {
      add([value], rowIndex) {
        if (isNull(value)) return;
        const order = best === null ? undefined : compareValues(value, best);
        if (best === null || (order !== undefined && pick(order))) {
          best = value;
          row = rowIndex;
        }
      },
      result: () => best,
      chosenRow: () => row,
    };
  };
}

const AGGREGATES: Record<string, () => Aggregator> = {
  // count-aggregation-function page: the rows in the group.
  count: () => {
    let n = 0;
    return { add: () => void (n += 1), result: () => n };
  },
  countif: () => {
    let n = 0;
    return { add: ([p]) => void (p === true ? (n += 1) : 0), result: () => n };
  },
  dcount: () => {
    const seen = new Set<string>();
    return {
      add: ([v]) => void (isNull(v) ? 0 : seen.add(valueKey(v))),
      result: () => seen.size,
    };
  },
  sum: () => {
    let total: number | null = null;
    return {
      add: ([v]) => void (typeof v === "number" ? (total = (total ?? 0) + v) : 0),
      result: () => total,
    };
  },
  avg: () => {
    let total = 0;
    let n = 0;
    return {
      add: ([v]) => {
        if (typeof v === "number") {
          total += v;
          n += 1;
        }
      },
      result: () => (n === 0 ? null : total / n),
    };
  },
  min: extreme((order) => order < 0),
  max: extreme((order) => order > 0),
  // arg_min/arg_max pages: the row with the least/greatest value; ties keep the first seen.
  arg_min: extreme((order) => order < 0),
  arg_max: extreme((order) => order > 0),
  take_any: () => {
    let value: KqlValue = null;
    let row: number | undefined;
    return {
      add([v], rowIndex) {
        if (row === undefined) {
          value = v;
          row = rowIndex;
        }
      },
      result: () => value,
      chosenRow: () => row,
    };
  },
  make_set: () => {
    const seen = new Map<string, JsonValue>();
    return {
      add: ([v]) =>
        void (isNull(v) || seen.has(valueKey(v)) ? 0 : seen.set(valueKey(v), toJson(v))),
      result: () => [...seen.values()],
    };
  },
  make_list: () => {
    const list: JsonValue[] = [];
    return { add: ([v]) => void (isNull(v) ? 0 : list.push(toJson(v))), result: () => list };
  },
};

/** A fresh aggregator for the named function, or undefined when the local engine lacks it. */
export function aggregator(name: string): Aggregator | undefined {
  return Object.prototype.hasOwnProperty.call(AGGREGATES, name) ? AGGREGATES[name]() : undefined;
}

/** arg_min/arg_max/take_any: aggregates that return a whole row's columns. */
export function returnsRow(name: string): boolean {
  return name === "arg_min" || name === "arg_max";
}
