import type { TableSchema } from "../kusto";
import { KqlRuntimeError, KqlUnsupportedError } from "./errors";
import { describe, evalScalar, NO_ROW, type Binding } from "./expressions";
import { analyseKql, listItems, nameOf, parts, type KqlNode } from "./syntax";
import { evalTabular, type QueryEnvironment } from "./tabular";
import { fromStored, type Column, type Row, type Table } from "./values";
import { watchlistFunction, watchlistTable, type Watchlists } from "./watchlist";

// The local KQL engine: runs a query of the supported subset over in-memory tables.
// 1. Kusto.Language parses and analyses the query against the table schemas (and the
//    `_GetWatchlist` function): its syntax and semantic errors are the query's errors, as the
//    service reports them.
// 2. The statements run in order: `let` binds a scalar (evaluated once) or a table (evaluated
//    when used); the one expression statement is the result.
// Anything outside the subset throws KqlUnsupportedError naming the construct: never a silently
// different answer.

/** The data a query runs over. */
export interface KqlDataset {
  /** Schemas of the workspace's tables (what the analyser checks the query against). */
  schemas: readonly TableSchema[];
  /** Rows of each table, by name; a schema without rows is an empty table. */
  tables: ReadonlyMap<string, Table>;
  watchlists?: Watchlists;
  /** The query's now(); ago(x) is now() - x. */
  now: Date;
}

/** A query the service would reject before running it: a syntax or semantic error. */
export class KqlQueryError extends Error {
  constructor(
    readonly kind: "syntax" | "semantic",
    readonly detail: string,
    readonly start: number,
  ) {
    super(detail);
    this.name = "KqlQueryError";
  }
}

/** One stored record: its cells by column name and when it was ingested. */
export interface StoredRecord {
  /** Column name → value (JSON: datetimes as ISO text); fields outside the schema are ignored. */
  cells: object;
  /** ingestion_time(), ms since the epoch. */
  ingestionTime: number;
}

/** A table schema's columns, with the type names the evaluator uses. */
export function schemaColumns(schema: TableSchema): Column[] {
  return schema.Properties.map((p) => {
    const type = p.Type.toLowerCase();
    return { name: p.Name, type: TYPE_SYNONYMS[type] ?? type };
  });
}

// Other spellings of Kusto's types (scalar-data-types page: boolean is bool, double is real...).
const TYPE_SYNONYMS: Record<string, string> = {
  boolean: "bool",
  double: "real",
  int64: "long",
  int32: "int",
  date: "datetime",
  time: "timespan",
  uuid: "guid",
  uniqueid: "guid",
};

/** One stored record as a row of the table, each cell typed by its column. */
export function rowFromRecord(schema: TableSchema, columns: Column[], record: StoredRecord): Row {
  const cells = new Map<string, unknown>(Object.entries(record.cells));
  return {
    values: columns.map((c) => fromStored(cells.get(c.name), c.type, `${schema.Name}.${c.name}`)),
    ingestionTime: record.ingestionTime,
  };
}

/** Builds a table from stored records, typing each cell by the schema's column type. */
export function tableFromRecords(schema: TableSchema, records: readonly StoredRecord[]): Table {
  const columns = schemaColumns(schema);
  return { columns, rows: records.map((r) => rowFromRecord(schema, columns, r)) };
}

/** Analyses the query as the service would; throws KqlQueryError on its first error. */
export function checkKql(
  query: string,
  schemas: readonly TableSchema[],
  watchlists: Watchlists = {},
): KqlNode {
  const analysed = analyseKql(query, schemas, [watchlistFunction(watchlists)]);
  const syntax = analysed.syntaxDiagnostics.find((d) => d.severity === "Error");
  if (syntax) throw new KqlQueryError("syntax", syntax.message, syntax.start);
  const semantic = analysed.diagnostics.find((d) => d.severity === "Error");
  if (semantic) throw new KqlQueryError("semantic", semantic.message, semantic.start);
  return analysed.root;
}

/** The columns of the query's result, as the analyser gives them (undefined: not tabular). */
export function resultColumnsOf(root: KqlNode): Table["columns"] | undefined {
  const statements = statementsOf(root);
  const last = statements[statements.length - 1];
  return last?.kind === "ExpressionStatement" ? parts(last)[0]?.columns : undefined;
}

function statementsOf(root: KqlNode): KqlNode[] {
  // A query block holds two lists: its directives, then its statements.
  const lists = root.children.filter((c) => c.kind === "List");
  return listItems(lists[lists.length - 1]);
}

/** Runs the query over the dataset and returns its result table. */
export function runKql(query: string, dataset: KqlDataset): Table {
  const watchlists = dataset.watchlists ?? {};
  const root = checkKql(query, dataset.schemas, watchlists);
  const lets = new Map<string, Binding>();
  const env: QueryEnvironment = {
    now: dataset.now.getTime(),
    lets,
    constants: new Map(),
    tabular: (node, e) => evalTabular(node, e as QueryEnvironment),
    sources: {
      table: (name) => dataset.tables.get(name),
      watchlist: (alias, columns) => watchlistTable(watchlists, alias, columns),
    },
  };
  let result: Table | undefined;
  for (const statement of statementsOf(root)) {
    if (statement.kind === "LetStatement") {
      bind(statement, env);
    } else if (statement.kind === "ExpressionStatement") {
      if (result)
        throw new KqlUnsupportedError("more than one result table (several expression statements)");
      const expression = parts(statement)[0];
      if (!expression.columns)
        throw new KqlUnsupportedError(`a scalar query result ('${describe(expression)}')`);
      result = evalTabular(expression, env);
    } else {
      throw new KqlUnsupportedError(`the statement '${describe(statement)}'`);
    }
  }
  if (!result) throw new KqlRuntimeError("the query has no result table");
  return result;
}

function bind(statement: KqlNode, env: QueryEnvironment): void {
  const [nameNode, expression] = parts(statement);
  const name = nameOf(nameNode);
  if (!expression || expression.kind === "FunctionDeclaration") {
    throw new KqlUnsupportedError(`the user-defined function '${name}'`);
  }
  if (expression.kind === "MaterializeExpression") throw new KqlUnsupportedError("materialize()");
  if (expression.columns) {
    let cached: Table | undefined;
    // A let-bound table is evaluated where it is used, once (the same rows each time).
    env.lets.set(name, { kind: "tabular", table: () => (cached ??= evalTabular(expression, env)) });
    return;
  }
  env.lets.set(name, { kind: "scalar", value: evalScalar(expression, NO_ROW, env) });
}
