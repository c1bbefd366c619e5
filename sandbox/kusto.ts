import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";

// Kusto.Language (the parser and semantic analyser behind Azure Data Explorer and Log Analytics
// editors) ships on npm as a Bridge.NET script bundle, not a module: it defines the global
// `Kusto`. The declarations below cover only what this file uses; the package's own 1.7 MB .d.ts
// would slow every type check.

/** One column of a table schema, as the shared schema files spell it. */
export interface ColumnSchema {
  Name: string;
  /** Kusto type name: string, long, int, bool, real, datetime, timespan, guid, dynamic... */
  Type: string;
}

/** A table schema: `{ Name, Properties: [{ Name, Type }] }` (the Azure-Sentinel repo format). */
export interface TableSchema {
  Name: string;
  Properties: ColumnSchema[];
}

/** A problem Kusto.Language found in a query. */
export interface KqlDiagnostic {
  code: string;
  severity: string;
  category: string;
  message: string;
  start: number;
  length: number;
}

/** A column of a query's result: its name and Kusto type, as the query API reports them. */
export interface KqlColumn {
  name: string;
  type: string;
}

/** Everything one analysis pass learns about a query. */
export interface KqlInspection {
  /** Every diagnostic: syntax and semantic, all severities. */
  diagnostics: KqlDiagnostic[];
  /** The subset that comes from parsing alone. */
  syntaxDiagnostics: KqlDiagnostic[];
  /** Columns of the tabular result, in order; undefined when the result is not a table. */
  resultColumns: KqlColumn[] | undefined;
}

// --- Minimal shapes of the Bridge.NET objects used here -------------------------------------

export interface BridgeList<T> {
  Count: number;
  getItem(index: number): T;
}
/** Bridge hands back a plain array for empty lists and a List for others. */
type BridgeListLike<T> = BridgeList<T> | T[];

export interface KDiagnostic {
  Code: string | null;
  Severity: string | null;
  Category: string | null;
  Message: string | null;
  Start: number;
  Length: number;
}
export interface KTypeSymbol {
  Kind: number;
  Name: string | null;
  Columns?: BridgeList<KColumnSymbol>;
}
interface KColumnSymbol {
  Name: string | null;
  Type: KTypeSymbol | null;
}
interface KSyntaxNode {
  Kind: number;
}
interface KTreeNode extends KSyntaxNode {
  IsToken: boolean;
  ChildCount: number;
  TextStart: number;
  End: number;
  NameInParent: string | null;
  GetChild(index: number): KTreeNode | null;
  ReferencedSymbol?: { Kind: number; Name: string | null } | null;
}
interface KValueInfo {
  Value: unknown;
  ValueText: string | null;
}
interface KExpression extends KSyntaxNode {
  LiteralValueInfo: KValueInfo | null;
}
interface KLetStatement extends KSyntaxNode {
  Name: { SimpleName: string | null } | null;
  Expression: KExpression | null;
}
interface KQueryBlock extends KSyntaxNode {
  Statements: { Count: number; getItem$1(index: number): { Element$1: KSyntaxNode | null } } | null;
}
interface KKustoCode {
  Syntax: KSyntaxNode | null;
  ResultType: KTypeSymbol | null;
  GetDiagnostics(): BridgeListLike<KDiagnostic> | null;
  GetSyntaxDiagnostics(): BridgeListLike<KDiagnostic> | null;
}
interface KGlobalState {
  WithDatabase(database: unknown): KGlobalState;
}
export interface KustoLanguage {
  KustoCode: {
    Parse(text: string, globals: KGlobalState | null): KKustoCode;
    ParseAndAnalyze(text: string, globals: KGlobalState | null): KKustoCode;
  };
  GlobalState: { Default: KGlobalState };
  Symbols: {
    ScalarTypes: { GetSymbol(name: string): KTypeSymbol | null };
    ColumnSymbol: new (
      name: string,
      type: KTypeSymbol,
      description: null,
      originalColumns: null,
      source: null,
      examples: null,
    ) => KColumnSymbol;
    TableSymbol: { $ctor4: new (name: string, columns: KColumnSymbol[]) => unknown };
    DatabaseSymbol: { ctor: new (name: string, members: unknown[]) => unknown };
    SymbolKind: { Table: number };
  };
  Syntax: {
    SyntaxKind: {
      QueryBlock: number;
      LetStatement: number;
      DateTimeLiteralExpression: number;
      LongLiteralExpression: number;
      TimespanLiteralExpression: number;
      StringLiteralExpression: number;
    } & Record<string, unknown>;
  };
}

interface KustoHost {
  Kusto?: { Language?: KustoLanguage };
}

/** Loads the Kusto.Language bundle into the process's main realm once; returns Kusto.Language. */
export function kustoLanguage(): KustoLanguage {
  // runInThisContext evaluates in Node's main realm even under Jest, whose modules run in their
  // own; looking the bundle up there first means it is evaluated once per process, as a second
  // evaluation fails ("Class ... is already defined").
  const host = vm.runInThisContext("globalThis") as KustoHost;
  if (host.Kusto?.Language) return host.Kusto.Language;
  const dir = path.dirname(require.resolve("@kusto/language-service-next/package.json"));
  for (const file of ["bridge.min.js", "Kusto.Language.Bridge.min.js"]) {
    vm.runInThisContext(readFileSync(path.join(dir, file), "utf8"), { filename: file });
  }
  if (!host.Kusto?.Language) {
    throw new Error("Kusto.Language bundle did not define the global Kusto.Language");
  }
  return host.Kusto.Language;
}

/** A Bridge list (or the plain array Bridge gives for an empty one) as an array. */
export function toArray<T>(list: BridgeListLike<T> | null): T[] {
  if (list === null) return [];
  if (Array.isArray(list)) return list;
  const items: T[] = [];
  for (let i = 0; i < list.Count; i++) items.push(list.getItem(i));
  return items;
}

/** One Kusto.Language diagnostic as plain data. */
export function toDiagnostic(d: KDiagnostic): KqlDiagnostic {
  return {
    code: d.Code ?? "",
    severity: d.Severity ?? "",
    category: d.Category ?? "",
    message: d.Message ?? "",
    start: d.Start,
    length: d.Length,
  };
}

// .NET spellings some schema exports use, mapped to Kusto's names.
const TYPE_ALIASES: Record<string, string> = {
  "system.string": "string",
  "system.int64": "long",
  int64: "long",
  "system.int32": "int",
  int32: "int",
  "system.boolean": "bool",
  "system.double": "real",
  double: "real",
  "system.datetime": "datetime",
  "system.timespan": "timespan",
  "system.guid": "guid",
  "system.object": "dynamic",
};

/** The Kusto.Language symbol of a schema column's type (.NET spellings accepted). */
export function scalarType(k: KustoLanguage, table: string, column: ColumnSchema): KTypeSymbol {
  const name = column.Type.toLowerCase();
  const type = k.Symbols.ScalarTypes.GetSymbol(TYPE_ALIASES[name] ?? name);
  if (!type) throw new Error(`${table}.${column.Name}: unknown Kusto type '${column.Type}'`);
  return type;
}

// Building the symbols is cheap, but the stand-in analyses every request against the same
// schema array; the cache keeps that to one GlobalState.
const globalsCache = new WeakMap<readonly TableSchema[], KGlobalState>();

function globalsFor(tables: readonly TableSchema[]): KGlobalState {
  const cached = globalsCache.get(tables);
  if (cached) return cached;
  const k = kustoLanguage();
  const symbols = tables.map(
    (t) =>
      new k.Symbols.TableSymbol.$ctor4(
        t.Name,
        t.Properties.map(
          (c) =>
            new k.Symbols.ColumnSymbol(c.Name, scalarType(k, t.Name, c), null, null, null, null),
        ),
      ),
  );
  const globals = k.GlobalState.Default.WithDatabase(
    new k.Symbols.DatabaseSymbol.ctor("workspace", symbols),
  );
  globalsCache.set(tables, globals);
  return globals;
}

/** Parses and analyses a query against the tables; returns diagnostics and the result schema. */
export function inspectKql(query: string, tables: readonly TableSchema[]): KqlInspection {
  const k = kustoLanguage();
  return inspectCode(k, k.KustoCode.ParseAndAnalyze(query, globalsFor(tables)));
}

function inspectCode(k: KustoLanguage, code: KKustoCode): KqlInspection {
  const result = code.ResultType;
  const resultColumns =
    result && result.Kind === k.Symbols.SymbolKind.Table && result.Columns
      ? toArray(result.Columns).map((c) => ({
          name: c.Name ?? "",
          type: c.Type?.Name ?? "unknown",
        }))
      : undefined;
  return {
    diagnostics: toArray(code.GetDiagnostics()).map(toDiagnostic),
    syntaxDiagnostics: toArray(code.GetSyntaxDiagnostics()).map(toDiagnostic),
    resultColumns,
  };
}

/** A node or token of Kusto.Language's syntax tree: the members the rule loader reads. */
export interface KqlNode {
  /** Kusto.Language's SyntaxKind name: "PipeExpression", "FilterOperator", "NameReference"... */
  readonly kind: string;
  /** For a name that binds to a table of the schemas: that table's name. */
  readonly table: string | undefined;
  readonly isToken: boolean;
  /** Where the node's text starts and ends in the query (leading trivia excluded). */
  readonly start: number;
  readonly end: number;
  /** The node's role in its parent: "Left", "Condition", "Operator"... */
  readonly role: string;
  readonly children: readonly (KqlNode | undefined)[];
}

/** A query's syntax tree after semantic analysis, with its diagnostics and result columns. */
export interface KqlTree extends KqlInspection {
  root: KqlNode;
}

let kindNames: Map<number, string> | undefined;

function treeNode(k: KustoLanguage, node: KTreeNode): KqlNode {
  kindNames ??= new Map(
    Object.entries(k.Syntax.SyntaxKind)
      .filter((e): e is [string, number] => typeof e[1] === "number")
      .map(([name, value]) => [value, name]),
  );
  const symbol = node.IsToken ? undefined : node.ReferencedSymbol;
  const children: (KqlNode | undefined)[] = [];
  for (let i = 0; i < node.ChildCount; i++) {
    const child = node.GetChild(i);
    children.push(child ? treeNode(k, child) : undefined);
  }
  return {
    kind: kindNames.get(node.Kind) ?? String(node.Kind),
    table:
      symbol && symbol.Kind === k.Symbols.SymbolKind.Table ? (symbol.Name ?? undefined) : undefined,
    isToken: node.IsToken,
    start: node.TextStart,
    end: node.End,
    role: node.NameInParent ?? "",
    children,
  };
}

/**
 * Parses and analyses a query against the tables; returns its syntax tree as plain objects (so
 * callers never touch Bridge.NET types), with diagnostics and result columns.
 */
export function kqlSyntaxTree(query: string, tables: readonly TableSchema[]): KqlTree {
  const k = kustoLanguage();
  const code = k.KustoCode.ParseAndAnalyze(query, globalsFor(tables));
  if (!code.Syntax) throw new Error("Kusto.Language returned no syntax tree");
  return { ...inspectCode(k, code), root: treeNode(k, code.Syntax as KTreeNode) };
}

/** Every diagnostic (syntax and semantic, any severity) Kusto.Language reports for the query. */
export function analyzeKql(query: string, tables: readonly TableSchema[]): KqlDiagnostic[] {
  return inspectKql(query, tables).diagnostics;
}

/** The table schemas kept in the repository: `<repo>/schemas/tables` (see its README). */
export function tableSchemaDir(): string {
  // Sources live in sandbox/, the build in dist/sandbox/: find the repo by its package.json
  // rather than counting levels.
  let dir = __dirname;
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) {
    dir = path.dirname(dir);
  }
  return path.join(dir, "schemas", "tables");
}

/** Reads every `*.json` table schema in a directory (e.g. schemas/tables). */
export function loadTableSchemas(dir: string): TableSchema[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const value: unknown = JSON.parse(readFileSync(path.join(dir, f), "utf8"));
      if (!isTableSchema(value)) throw new Error(`${path.join(dir, f)} is not a table schema`);
      return value;
    });
}

function isTableSchema(value: unknown): value is TableSchema {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { Name?: unknown; Properties?: unknown };
  return (
    typeof v.Name === "string" &&
    Array.isArray(v.Properties) &&
    v.Properties.every(
      (p: unknown) =>
        typeof p === "object" &&
        p !== null &&
        typeof (p as ColumnSchema).Name === "string" &&
        typeof (p as ColumnSchema).Type === "string",
    )
  );
}

/** A top-level `let X = datetime(...)` whose literal is not a valid datetime. */
export class InvalidDatetimeLiteralError extends Error {
  constructor(
    readonly letName: string,
    readonly literal: string,
  ) {
    super(`let ${letName}: '${literal}' is not a valid datetime literal`);
    this.name = "InvalidDatetimeLiteralError";
  }
}

// Kusto.Language leaves an unparsable datetime literal at .NET DateTime.MinValue instead of
// reporting it; a real cluster rejects it.
const DOTNET_DATETIME_MIN_MS = -62135596800000;

function literalDate(value: unknown): Date | undefined {
  // Bridge boxes System.DateTime as { $boxed: true, v: Date }. The Date comes from the main
  // realm, which under Jest is not ours, so it is recognised by its tag, not instanceof.
  const inner = typeof value === "object" && value !== null && "v" in value ? value.v : value;
  if (Object.prototype.toString.call(inner) !== "[object Date]") return undefined;
  return new Date((inner as Date).getTime());
}

/** The query's top-level let statements (name and bound expression), from the syntax tree. */
function* topLevelLets(query: string): Generator<{ name: string; value: KExpression }> {
  const k = kustoLanguage();
  const root = k.KustoCode.Parse(query, null).Syntax;
  if (!root || root.Kind !== k.Syntax.SyntaxKind.QueryBlock) return;
  const statements = (root as KQueryBlock).Statements;
  for (let i = 0; statements && i < statements.Count; i++) {
    const statement = statements.getItem$1(i).Element$1;
    if (!statement || statement.Kind !== k.Syntax.SyntaxKind.LetStatement) continue;
    const { Name, Expression } = statement as KLetStatement;
    if (Name?.SimpleName && Expression) yield { name: Name.SimpleName, value: Expression };
  }
}

/**
 * Values of the query's top-level `let Name = datetime(...)` statements, read from the syntax
 * tree (not the text), so comments, strings and nested lets cannot be mistaken for them.
 */
export function readLetDatetimes(query: string): Map<string, Date> {
  const kinds = kustoLanguage().Syntax.SyntaxKind;
  const found = new Map<string, Date>();
  for (const { name, value } of topLevelLets(query)) {
    if (value.Kind !== kinds.DateTimeLiteralExpression) continue;
    const date = literalDate(value.LiteralValueInfo?.Value);
    const text = value.LiteralValueInfo?.ValueText ?? "";
    if (!date || Number.isNaN(date.getTime()) || date.getTime() === DOTNET_DATETIME_MIN_MS) {
      throw new InvalidDatetimeLiteralError(name, text);
    }
    found.set(name, date);
  }
  return found;
}

/** Values of the query's top-level `let Name = <long literal>` statements, like readLetDatetimes. */
export function readLetLongs(query: string): Map<string, number> {
  const kinds = kustoLanguage().Syntax.SyntaxKind;
  const found = new Map<string, number>();
  for (const { name, value } of topLevelLets(query)) {
    if (value.Kind !== kinds.LongLiteralExpression) continue;
    found.set(name, Number(value.LiteralValueInfo?.ValueText));
  }
  return found;
}

/** Values of the query's top-level `let Name = <timespan literal>` statements, in milliseconds. */
export function readLetTimespans(query: string): Map<string, number> {
  const kinds = kustoLanguage().Syntax.SyntaxKind;
  const found = new Map<string, number>();
  for (const { name, value } of topLevelLets(query)) {
    if (value.Kind !== kinds.TimespanLiteralExpression) continue;
    // Bridge boxes System.TimeSpan as { ticks } (100 ns each).
    const ticks = (value.LiteralValueInfo?.Value as { ticks?: unknown } | null)?.ticks;
    found.set(name, Number(String(ticks)) / 10_000);
  }
  return found;
}

/** Values of the query's top-level `let Name = "<string literal>"` statements. */
export function readLetStrings(query: string): Map<string, string> {
  const kinds = kustoLanguage().Syntax.SyntaxKind;
  const found = new Map<string, string>();
  for (const { name, value } of topLevelLets(query)) {
    if (value.Kind !== kinds.StringLiteralExpression) continue;
    const literal = value.LiteralValueInfo?.Value;
    if (typeof literal === "string") found.set(name, literal);
  }
  return found;
}
