import { aggregator, returnsRow, type Aggregator } from "./aggregates";
import { KqlRuntimeError, KqlUnsupportedError } from "./errors";
import {
  columnIndex,
  describe,
  evalScalar,
  NO_ROW,
  type Environment,
  type RowScope,
} from "./expressions";
import { keywordOf, listItems, nameOf, parts, type KqlNode } from "./syntax";
import {
  compareValues,
  isTrue,
  toLong,
  valueKey,
  type Column,
  type KqlValue,
  type Row,
  type Table,
} from "./values";

// Tabular operators (learn.microsoft.com/kusto/query/<operator>-operator pages). Output columns,
// their names and order, are the ones Kusto.Language's semantic analysis gives each operator
// (so unnamed columns are named as the service names them: count_, max_X, Column1...); the values
// are computed here.

/** Where table names and watchlists come from. */
export interface TabularSources {
  table(name: string): Table | undefined;
  watchlist(alias: string, columns: Column[]): Table;
}

/** The environment of a query: scalar context plus its data sources. */
export interface QueryEnvironment extends Environment {
  sources: TabularSources;
}

function unsupportedOperator(node: KqlNode): never {
  const keyword = keywordOf(node) ?? node.kind;
  throw new KqlUnsupportedError(`the '${keyword}' operator`);
}

function outputColumns(node: KqlNode): Column[] {
  if (!node.columns) throw new KqlRuntimeError(`'${describe(node)}' has no tabular result`);
  return node.columns;
}

/** Named parameters of an operator (kind=leftanti, withsource=T), by lower-case name. */
function parameters(list: KqlNode | undefined, allowed: readonly string[], operator: string) {
  const found = new Map<string, KqlNode>();
  for (const item of list?.children ?? []) {
    if (item.kind !== "NamedParameter") continue;
    const [nameNode, valueNode] = parts(item);
    const name = nameOf(nameNode).toLowerCase();
    if (!allowed.includes(name)) {
      throw new KqlUnsupportedError(`the parameter '${name}' of the '${operator}' operator`);
    }
    found.set(name, valueNode);
  }
  return found;
}

/** Evaluates a tabular expression. */
export function evalTabular(node: KqlNode, env: QueryEnvironment): Table {
  const kids = parts(node);
  switch (node.kind) {
    case "ParenthesizedExpression":
      return evalTabular(kids[0], env);
    case "NameReference":
      return namedTable(node, env);
    case "PipeExpression":
      return applyOperator(kids[1], evalTabular(kids[0], env), env);
    case "UnionOperator":
      return union(node, [], env);
    case "PrintOperator":
      return print(node, env);
    case "FunctionCallExpression":
      return tabularFunction(node, env);
    default:
      throw new KqlUnsupportedError(`the tabular expression '${describe(node)}' (${node.kind})`);
  }
}

function namedTable(node: KqlNode, env: QueryEnvironment): Table {
  const name = nameOf(node);
  const bound = env.lets.get(name);
  if (bound?.kind === "tabular") return bound.table();
  if (node.ref?.kind === "Table") {
    const table = env.sources.table(name);
    if (table) return table;
    // The analyser knows the table (it is in the schema) but holds no rows: an empty table.
    return { columns: outputColumns(node), rows: [] };
  }
  throw new KqlUnsupportedError(`the tabular name '${name}'`);
}

function tabularFunction(node: KqlNode, env: QueryEnvironment): Table {
  const [nameNode, argList] = parts(node);
  const name = nameOf(nameNode);
  if (name === "_GetWatchlist") {
    const [aliasNode] = listItems(parts(argList)[0]);
    const alias = evalScalar(aliasNode, NO_ROW, env);
    return env.sources.watchlist(typeof alias === "string" ? alias : "", outputColumns(node));
  }
  throw new KqlUnsupportedError(`the tabular function ${name}()`);
}

function applyOperator(op: KqlNode, input: Table, env: QueryEnvironment): Table {
  switch (op.kind) {
    case "FilterOperator":
      return where(op, input, env);
    case "ProjectOperator":
      return project(op, input, env);
    case "ProjectAwayOperator":
    case "ProjectKeepOperator":
    case "ProjectReorderOperator":
      return byName(op, input, new Map());
    case "ProjectRenameOperator":
      return projectRename(op, input);
    case "ExtendOperator":
      return extend(op, input, env);
    case "SortOperator":
      return sort(op, input, env);
    case "TopOperator":
      return top(op, input, env);
    case "TakeOperator":
      return take(op, input, env);
    case "DistinctOperator":
      return distinct(op, input, env);
    case "CountOperator":
      return {
        columns: outputColumns(op),
        rows: [{ values: [input.rows.length], ingestionTime: null }],
      };
    case "SummarizeOperator":
      return summarize(op, input, env);
    case "JoinOperator":
      return join(op, input, env);
    case "UnionOperator":
      return union(op, [{ name: undefined, table: input }], env);
    default:
      return unsupportedOperator(op);
  }
}

function scopeFor(table: Table): (row: Row) => RowScope {
  const columns = columnIndex(table);
  return (row) => ({ columns, row });
}

/** where (where-operator page): keeps the rows whose predicate is true (null counts as false). */
function where(op: KqlNode, input: Table, env: QueryEnvironment): Table {
  const [params, predicate] = parts(op);
  parameters(params, [], "where");
  const scope = scopeFor(input);
  return {
    columns: input.columns,
    rows: input.rows.filter((row) => isTrue(evalScalar(predicate, scope(row), env))),
  };
}

/** The name an item of project/extend/summarize gives its column, if it names one. */
function declaredName(item: KqlNode): string | undefined {
  if (item.kind === "SimpleNamedExpression") return nameOf(parts(item)[0]);
  if (item.kind === "NameReference") return nameOf(item);
  return undefined;
}

function valueExpression(item: KqlNode): KqlNode {
  return item.kind === "SimpleNamedExpression" ? parts(item)[1] : item;
}

function rejectCompound(items: KqlNode[], operator: string): void {
  for (const item of items) {
    if (item.kind === "CompoundNamedExpression" || item.kind === "StarExpression") {
      throw new KqlUnsupportedError(`'${describe(item)}' in the '${operator}' operator`);
    }
  }
}

/** project (project-operator page): exactly the listed columns, in order. */
function project(op: KqlNode, input: Table, env: QueryEnvironment): Table {
  const items = listItems(parts(op)[0]);
  rejectCompound(items, "project");
  const columns = outputColumns(op);
  if (columns.length !== items.length)
    throw new KqlUnsupportedError(`'${describe(op)}' (wildcard columns)`);
  const scope = scopeFor(input);
  return {
    columns,
    rows: input.rows.map((row) => ({
      values: items.map((item) => evalScalar(valueExpression(item), scope(row), env)),
      ingestionTime: row.ingestionTime,
    })),
  };
}

/** project-away/-keep/-reorder: the analyser's columns, each read from the input by name. */
function byName(op: KqlNode, input: Table, renamed: Map<string, string>): Table {
  const columns = outputColumns(op);
  const index = columnIndex(input);
  const sources = columns.map((c) => {
    const from = index.get(renamed.get(c.name) ?? c.name);
    if (from === undefined) throw new KqlRuntimeError(`column '${c.name}' is not in the input`);
    return from;
  });
  return {
    columns,
    rows: input.rows.map((row) => ({
      values: sources.map((i) => row.values[i]),
      ingestionTime: row.ingestionTime,
    })),
  };
}

/** project-rename (project-rename-operator page): new = old, other columns unchanged. */
function projectRename(op: KqlNode, input: Table): Table {
  const renamed = new Map<string, string>();
  for (const item of listItems(parts(op)[0])) {
    if (item.kind !== "SimpleNamedExpression")
      throw new KqlUnsupportedError(`'${describe(item)}' in project-rename`);
    const [newName, oldName] = parts(item);
    renamed.set(nameOf(newName), nameOf(oldName));
  }
  return byName(op, input, renamed);
}

/**
 * extend (extend-operator page): adds the computed columns; a name that exists replaces that
 * column's values in place. Unnamed columns take the analyser's names.
 */
function extend(op: KqlNode, input: Table, env: QueryEnvironment): Table {
  const items = listItems(parts(op)[0]);
  rejectCompound(items, "extend");
  const columns = outputColumns(op);
  const inputNames = new Set(input.columns.map((c) => c.name));
  const newNames = columns.map((c) => c.name).filter((n) => !inputNames.has(n));
  let unnamed = 0;
  const targets = items.map((item) => {
    if (item.kind === "SimpleNamedExpression") return nameOf(parts(item)[0]);
    const name = newNames.filter((n) => !items.some((i) => declaredName(i) === n))[unnamed++];
    if (!name) throw new KqlUnsupportedError(`'${describe(item)}' in the 'extend' operator`);
    return name;
  });
  const scope = scopeFor(input);
  const inputIndex = columnIndex(input);
  return {
    columns,
    rows: input.rows.map((row) => {
      const computed = new Map<string, KqlValue>();
      // Each expression sees the input row (extend-operator page: the new columns are not yet
      // visible to their siblings).
      items.forEach((item, i) =>
        computed.set(targets[i], evalScalar(valueExpression(item), scope(row), env)),
      );
      return {
        values: columns.map((c) =>
          computed.has(c.name)
            ? (computed.get(c.name) ?? null)
            : (row.values[inputIndex.get(c.name) ?? -1] ?? null),
        ),
        ingestionTime: row.ingestionTime,
      };
    }),
  };
}

interface SortKey {
  expression: KqlNode;
  descending: boolean;
  nullsFirst: boolean;
}

/**
 * Sort keys (sort-operator page): descending unless `asc`; nulls come first when ascending and
 * last when descending unless `nulls first|last` says otherwise.
 */
function sortKeys(items: KqlNode[]): SortKey[] {
  return items.map((item) => {
    if (item.kind !== "OrderedExpression")
      return { expression: item, descending: true, nullsFirst: false };
    const [expression, clause] = parts(item);
    const direction = clause ? keywordOf(clause) : undefined;
    const descending = direction !== "asc";
    const nullsClause = clause
      ? parts(clause).find((c) => c.kind === "OrderingNullsClause")
      : undefined;
    const nulls = nullsClause
      ? nullsClause.children.filter((c) => c.kind.endsWith("Keyword")).pop()?.text
      : undefined;
    return { expression, descending, nullsFirst: nulls ? nulls === "first" : !descending };
  });
}

function sortRows(rows: Row[], keys: SortKey[], table: Table, env: QueryEnvironment): Row[] {
  const scope = scopeFor(table);
  const keyed = rows.map((row, position) => ({
    row,
    position,
    values: keys.map((k) => evalScalar(k.expression, scope(row), env)),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const x = a.values[i];
      const y = b.values[i];
      if (x === null || y === null) {
        if (x === y) continue;
        return (x === null) === keys[i].nullsFirst ? -1 : 1;
      }
      const order = compareValues(x, y) ?? valueKey(x).localeCompare(valueKey(y));
      if (order !== 0) return keys[i].descending ? -order : order;
    }
    return a.position - b.position;
  });
  return keyed.map((k) => k.row);
}

function sort(op: KqlNode, input: Table, env: QueryEnvironment): Table {
  const [params, list] = parts(op);
  parameters(params, [], "sort");
  return {
    columns: input.columns,
    rows: sortRows(input.rows, sortKeys(listItems(list)), input, env),
  };
}

function count(expression: KqlNode, env: QueryEnvironment): number {
  const n = toLong(evalScalar(expression, NO_ROW, env));
  if (n === null || n < 0)
    throw new KqlRuntimeError(`'${describe(expression)}' is not a row count`);
  return n;
}

/** top (top-operator page): the first N rows by the sort key. */
function top(op: KqlNode, input: Table, env: QueryEnvironment): Table {
  const [params, n, ordered] = parts(op);
  parameters(params, [], "top");
  const rows = sortRows(input.rows, sortKeys([ordered]), input, env);
  return { columns: input.columns, rows: rows.slice(0, count(n, env)) };
}

/** take/limit (take-operator page): up to N rows, in no guaranteed order (here: input order). */
function take(op: KqlNode, input: Table, env: QueryEnvironment): Table {
  const [params, n] = parts(op);
  parameters(params, [], "take");
  return { columns: input.columns, rows: input.rows.slice(0, count(n, env)) };
}

/** distinct (distinct-operator page): one row per distinct combination of the listed columns. */
function distinct(op: KqlNode, input: Table, env: QueryEnvironment): Table {
  const [params, list] = parts(op);
  parameters(params, [], "distinct");
  const items = listItems(list);
  const columns = outputColumns(op);
  const all = items.length === 1 && items[0].kind === "StarExpression";
  const scope = scopeFor(input);
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const row of input.rows) {
    const values = all
      ? row.values
      : items.map((item) => evalScalar(valueExpression(item), scope(row), env));
    const key = values.map(valueKey).join("\u0000");
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({ values, ingestionTime: null });
  }
  return { columns, rows };
}

interface AggregateItem {
  name: string;
  args: KqlNode[];
  /** Output columns it fills: 1, or for arg_min/arg_max the chosen row's columns too. */
  width: number;
  star: boolean;
}

/**
 * summarize (summarize-operator page): one row per distinct by-key, in first-seen order; with no
 * by-clause always exactly one row, even over no input (count() is then 0, the others null).
 */
function summarize(op: KqlNode, input: Table, env: QueryEnvironment): Table {
  const kids = parts(op);
  const [params, aggregateList] = kids;
  parameters(params, [], "summarize");
  const byClause = kids.find((k) => k.kind === "SummarizeByClause");
  const byItems = byClause ? listItems(parts(byClause)[0]) : [];
  const aggregateNodes = listItems(aggregateList);
  const columns = outputColumns(op);
  const aggregates = aggregateNodes.map((node): AggregateItem => {
    const call = valueExpression(node);
    if (call.kind !== "FunctionCallExpression")
      throw new KqlUnsupportedError(`'${describe(node)}' in summarize`);
    const [nameNode, argList] = parts(call);
    const name = nameOf(nameNode);
    if (!aggregator(name)) throw new KqlUnsupportedError(`the aggregation function ${name}()`);
    const args = listItems(parts(argList)[0]);
    const star = args.some((a) => a.kind === "StarExpression");
    const width = returnsRow(name) ? (star ? -1 : args.length) : 1;
    return { name, args, width, star };
  });
  const fixed = aggregates.filter((a) => a.width >= 0).reduce((n, a) => n + a.width, 0);
  const stars = aggregates.filter((a) => a.width < 0);
  if (stars.length > 1)
    throw new KqlUnsupportedError("more than one arg_min/arg_max(..., *) in one summarize");
  for (const a of stars) a.width = columns.length - byItems.length - fixed;

  const scope = scopeFor(input);
  const groups = new Map<string, { key: KqlValue[]; rows: Row[]; aggs: Aggregator[] }>();
  for (const row of input.rows) {
    const key = byItems.map((item) => evalScalar(valueExpression(item), scope(row), env));
    const id = key.map(valueKey).join("\u0000");
    let group = groups.get(id);
    if (!group) {
      group = { key, rows: [], aggs: aggregates.map((a) => aggregator(a.name) as Aggregator) };
      groups.set(id, group);
    }
    const rowIndex = group.rows.length;
    group.rows.push(row);
    aggregates.forEach((a, i) => {
      const values = a.args
        .filter((x) => x.kind !== "StarExpression")
        .map((x) => evalScalar(x, scope(row), env));
      group.aggs[i].add(values.slice(0, 1).length ? values : [null], rowIndex);
    });
  }
  if (groups.size === 0 && byItems.length === 0) {
    groups.set("", {
      key: [],
      rows: [],
      aggs: aggregates.map((a) => aggregator(a.name) as Aggregator),
    });
  }

  const inputIndex = columnIndex(input);
  const rows: Row[] = [];
  for (const group of groups.values()) {
    const values: KqlValue[] = [...group.key];
    aggregates.forEach((a, i) => {
      const agg = group.aggs[i];
      values.push(agg.result());
      if (!returnsRow(a.name)) return;
      const chosen = agg.chosenRow?.();
      const row = chosen === undefined ? undefined : group.rows[chosen];
      const start = values.length;
      for (let c = 1; c < a.width; c++) {
        const column = columns[start + c - 1];
        if (a.star) {
          const from = inputIndex.get(column.name);
          values.push(row && from !== undefined ? row.values[from] : null);
        } else {
          values.push(row ? evalScalar(a.args[c], scope(row), env) : null);
        }
      }
    });
    if (values.length !== columns.length) {
      throw new KqlUnsupportedError(`'${describe(op)}' (its output columns could not be matched)`);
    }
    rows.push({ values, ingestionTime: null });
  }
  return { columns, rows };
}

const JOIN_KINDS = [
  "innerunique",
  "inner",
  "leftouter",
  "leftanti",
  "anti",
  "leftantisemi",
  "leftsemi",
  "rightanti",
  "rightantisemi",
  "rightsemi",
];

/**
 * join (join-operator page): kind innerunique by default (the left side deduplicated on the key
 * first), inner, leftouter, leftanti/anti/leftantisemi, leftsemi, rightanti, rightsemi. Keys
 * match by ==; a null key matches nothing. Output columns are the analyser's: the left's, then
 * the right's with clashing names suffixed (Key1), for the kinds that keep both sides.
 */
function join(op: KqlNode, left: Table, env: QueryEnvironment): Table {
  const [params, rightNode, onClause] = parts(op);
  const found = parameters(params, ["kind"], "join");
  const kindNode = found.get("kind");
  const kind = kindNode ? describe(kindNode).toLowerCase() : "innerunique";
  if (!JOIN_KINDS.includes(kind)) throw new KqlUnsupportedError(`join kind=${kind}`);
  if (!onClause || onClause.kind !== "JoinOnClause")
    throw new KqlUnsupportedError("join without an 'on' clause");
  const right = evalTabular(rightNode, env);
  const keys = listItems(parts(onClause)[0]).map((item) => joinKey(item));
  const leftIndex = columnIndex(left);
  const rightIndex = columnIndex(right);
  const keyOf = (
    row: Row,
    index: Map<string, number>,
    side: "left" | "right",
  ): string | undefined => {
    const values = keys.map((k) => row.values[index.get(k[side]) ?? -1] ?? null);
    if (values.some((v) => v === null)) return undefined;
    return values.map(valueKey).join("\u0000");
  };
  const rightByKey = new Map<string, Row[]>();
  for (const row of right.rows) {
    const key = keyOf(row, rightIndex, "right");
    if (key !== undefined) rightByKey.set(key, [...(rightByKey.get(key) ?? []), row]);
  }
  const columns = outputColumns(op);
  const rows: Row[] = [];
  const merged = (l: Row | undefined, r: Row | undefined): Row => {
    const values = [
      ...(l ? l.values : left.columns.map(missingCell)),
      ...(r ? r.values : right.columns.map(missingCell)),
    ];
    if (values.length !== columns.length)
      throw new KqlUnsupportedError(`'${describe(op)}' (its output columns)`);
    return { values, ingestionTime: null };
  };
  switch (kind) {
    case "leftanti":
    case "anti":
    case "leftantisemi":
      return {
        columns,
        rows: left.rows.filter((l) => !rightByKey.has(keyOf(l, leftIndex, "left") ?? "\u0001")),
      };
    case "leftsemi":
      return {
        columns,
        rows: left.rows.filter((l) => rightByKey.has(keyOf(l, leftIndex, "left") ?? "\u0001")),
      };
    case "rightanti":
    case "rightantisemi":
    case "rightsemi": {
      const leftKeys = new Set(left.rows.map((l) => keyOf(l, leftIndex, "left")));
      const keep = kind === "rightsemi";
      return {
        columns,
        rows: right.rows.filter((r) => leftKeys.has(keyOf(r, rightIndex, "right")) === keep),
      };
    }
  }
  const seen = new Set<string>();
  for (const l of left.rows) {
    const key = keyOf(l, leftIndex, "left");
    if (kind === "innerunique") {
      if (key === undefined || seen.has(key)) continue;
      seen.add(key);
    }
    const matches = key === undefined ? [] : (rightByKey.get(key) ?? []);
    if (matches.length === 0 && kind === "leftouter") rows.push(merged(l, undefined));
    for (const r of matches) rows.push(merged(l, r));
  }
  return { columns, rows };
}

/** A cell with no value: "" for a string (strings are never null), null otherwise. */
function missingCell(column: Column): KqlValue {
  return column.type === "string" ? "" : null;
}

function joinKey(item: KqlNode): { left: string; right: string } {
  if (item.kind === "NameReference") return { left: nameOf(item), right: nameOf(item) };
  if (item.kind === "EqualExpression") {
    const [a, b] = parts(item).map((side) => {
      const [scope, column] = parts(side);
      // $left/$right are keywords of the join, not symbols: read their token.
      return { side: describe(scope), column: nameOf(column) };
    });
    const left = a.side === "$left" ? a : b;
    const right = a.side === "$left" ? b : a;
    if (left.side === "$left" && right.side === "$right")
      return { left: left.column, right: right.column };
  }
  throw new KqlUnsupportedError(`the join condition '${describe(item)}'`);
}

/**
 * union (union-operator page): the rows of every table; columns are the union of the inputs'
 * (the analyser's list), a column a table lacks reads as null ("" for strings), and
 * withsource=Name adds the source table's name as the first column.
 */
function union(
  op: KqlNode,
  piped: { name: string | undefined; table: Table }[],
  env: QueryEnvironment,
): Table {
  const [params, list] = parts(op);
  const found = parameters(params, ["withsource", "kind"], "union");
  const kindNode = found.get("kind");
  if (kindNode && describe(kindNode).toLowerCase() !== "outer") {
    throw new KqlUnsupportedError(`union kind=${describe(kindNode)}`);
  }
  const withSource = found.has("withsource");
  const inputs = [
    ...piped,
    ...listItems(list).map((item) => ({
      name: item.kind === "NameReference" ? nameOf(item) : undefined,
      table: evalTabular(item, env),
    })),
  ];
  const columns = outputColumns(op);
  const rows: Row[] = [];
  for (const { name, table } of inputs) {
    if (withSource && name === undefined) {
      throw new KqlUnsupportedError("union withsource over a sub-query (only named tables)");
    }
    const index = columnIndex(table);
    const mapping = columns.map((c, i) => {
      if (withSource && i === 0) return -2;
      const from = index.get(c.name);
      if (from !== undefined && table.columns[from].type !== c.type) {
        throw new KqlUnsupportedError(`union of column '${c.name}' with different types`);
      }
      return from ?? -1;
    });
    for (const row of table.rows) {
      rows.push({
        values: mapping.map((from, i) =>
          from === -2
            ? (name ?? "")
            : from === -1
              ? columns[i].type === "string"
                ? ""
                : null
              : row.values[from],
        ),
        ingestionTime: row.ingestionTime,
      });
    }
  }
  return { columns, rows };
}

/** print (print-operator page): one row of scalar values. */
function print(op: KqlNode, env: QueryEnvironment): Table {
  const items = listItems(parts(op)[0]);
  const columns = outputColumns(op);
  return {
    columns,
    rows: [
      {
        values: items.map((item) => evalScalar(valueExpression(item), NO_ROW, env)),
        ingestionTime: null,
      },
    ],
  };
}
