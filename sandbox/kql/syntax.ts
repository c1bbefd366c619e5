import {
  kustoLanguage,
  scalarType,
  toArray,
  toDiagnostic,
  type BridgeList as BList,
  type KDiagnostic as BDiagnostic,
  type KqlColumn,
  type KqlDiagnostic,
  type KTypeSymbol,
  type TableSchema,
} from "../kusto";

// The evaluator reads Kusto.Language's analysed syntax tree, copied here into plain objects: the
// node kinds by name, token text, literal values, and what semantic analysis worked out for each
// node (its scalar type, or the columns of a tabular result; the symbol a name refers to). The
// evaluator never looks at query text itself.

/** One node of the analysed syntax tree. */
export interface KqlNode {
  /** Kusto.Language SyntaxKind name: "FilterOperator", "EqualTildeExpression", "IdentifierToken"... */
  kind: string;
  /** Token text (tokens only; "" for other nodes). */
  text: string;
  /** Offset of the node's first character in the query. */
  start: number;
  children: KqlNode[];
  /** The children that are not tokens (computed once: the evaluator reads them per row). */
  parts: KqlNode[];
  /** Scalar result type name (string, long, datetime...) when semantic analysis found one. */
  type?: string;
  /** Columns of the node's tabular result, when it is tabular. */
  columns?: KqlColumn[];
  /** The symbol a name refers to: its name and SymbolKind name (Column, Table, Variable...). */
  ref?: { name: string; kind: string };
  /** Kusto.Language's value for a literal (see literals.ts). */
  literal?: unknown;
  /** Kusto.Language's text of a literal's value. */
  literalText?: string;
}

/** The parts of Kusto.Language's objects read here. */
interface BNode {
  Kind: number;
  IsToken?: boolean;
  Text?: string;
  TextStart: number;
  ChildCount: number;
  GetChild(index: number): BNode | null;
  ResultType?: KTypeSymbol | null;
  ReferencedSymbol?: { Name: string | null; Kind: number } | null;
  LiteralValue?: unknown;
  LiteralValueInfo?: { ValueText: string | null } | null;
}
interface BKusto {
  KustoCode: {
    ParseAndAnalyze(
      text: string,
      globals: unknown,
    ): {
      Syntax: BNode;
      GetDiagnostics(): BList<BDiagnostic> | BDiagnostic[] | null;
      GetSyntaxDiagnostics(): BList<BDiagnostic> | BDiagnostic[] | null;
    };
  };
  GlobalState: { Default: { WithDatabase(database: unknown): unknown } };
  Syntax: { SyntaxKind: Record<string, unknown> };
  Symbols: {
    SymbolKind: Record<string, unknown>;
    ColumnSymbol: new (
      name: string,
      type: KTypeSymbol,
      description: null,
      originalColumns: null,
      source: null,
      examples: null,
    ) => unknown;
    TableSymbol: { $ctor4: new (name: string, columns: unknown[]) => unknown };
    DatabaseSymbol: { ctor: new (name: string, members: unknown[]) => unknown };
    FunctionSymbol: {
      $ctor16: new (name: string, parameters: string, body: string, description: null) => unknown;
    };
  };
}

/** A workspace function, declared to the analyser as Kusto text (e.g. `_GetWatchlist`). */
export interface FunctionDeclaration {
  name: string;
  /** Parameter list, e.g. "(watchlistAlias: string)". */
  parameters: string;
  /** Body, e.g. "{ datatable(SearchKey: string)[] }": the analyser learns the result's columns. */
  body: string;
}

/** The analysed query: its tree and every diagnostic. */
export interface AnalysedKql {
  root: KqlNode;
  diagnostics: KqlDiagnostic[];
  syntaxDiagnostics: KqlDiagnostic[];
}

function bridge(): BKusto {
  return kustoLanguage() as unknown as BKusto;
}

function nameTable(values: Record<string, unknown>): Map<number, string> {
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === "number" && !names.has(value)) names.set(value, name);
  }
  return names;
}

let kindNames: Map<number, string> | undefined;
let symbolKindNames: Map<number, string> | undefined;

function columnsOf(type: KTypeSymbol | null | undefined): KqlColumn[] | undefined {
  if (!type?.Columns) return undefined;
  return toArray(type.Columns).map((c) => ({
    name: c.Name ?? "",
    type: c.Type?.Name ?? "unknown",
  }));
}

function copy(node: BNode, kinds: Map<number, string>, symbolKinds: Map<number, string>): KqlNode {
  const kind = kinds.get(node.Kind) ?? `Kind${node.Kind}`;
  const out: KqlNode = {
    kind,
    text: node.IsToken ? (node.Text ?? "") : "",
    start: node.TextStart,
    children: [],
    parts: [],
  };
  if (!node.IsToken) {
    const type = node.ResultType;
    const columns = columnsOf(type);
    if (columns) out.columns = columns;
    else if (type?.Name) out.type = type.Name;
    const symbol = node.ReferencedSymbol;
    if (symbol?.Name) {
      out.ref = { name: symbol.Name, kind: symbolKinds.get(symbol.Kind) ?? String(symbol.Kind) };
    }
    if (kind.endsWith("LiteralExpression") || kind === "DynamicExpression") {
      out.literal = node.LiteralValue;
      out.literalText = node.LiteralValueInfo?.ValueText ?? undefined;
    }
  }
  for (let i = 0; i < node.ChildCount; i++) {
    const child = node.GetChild(i);
    if (child) out.children.push(copy(child, kinds, symbolKinds));
  }
  out.parts = out.children.filter((c) => !isToken(c));
  return out;
}

const globalsCache = new WeakMap<readonly TableSchema[], Map<string, unknown>>();

function globalsFor(tables: readonly TableSchema[], functions: readonly FunctionDeclaration[]) {
  const key = JSON.stringify(functions);
  const perTables = globalsCache.get(tables) ?? new Map<string, unknown>();
  globalsCache.set(tables, perTables);
  const cached = perTables.get(key);
  if (cached) return cached;
  const k = bridge();
  const language = kustoLanguage();
  const symbols: unknown[] = tables.map(
    (t) =>
      new k.Symbols.TableSymbol.$ctor4(
        t.Name,
        t.Properties.map(
          (c) =>
            new k.Symbols.ColumnSymbol(
              c.Name,
              scalarType(language, t.Name, c),
              null,
              null,
              null,
              null,
            ),
        ),
      ),
  );
  for (const f of functions) {
    symbols.push(new k.Symbols.FunctionSymbol.$ctor16(f.name, f.parameters, f.body, null));
  }
  const globals = k.GlobalState.Default.WithDatabase(
    new k.Symbols.DatabaseSymbol.ctor("workspace", symbols),
  );
  perTables.set(key, globals);
  return globals;
}

/** Parses and analyses a query against the tables and functions; returns its plain tree. */
export function analyseKql(
  query: string,
  tables: readonly TableSchema[],
  functions: readonly FunctionDeclaration[] = [],
): AnalysedKql {
  const k = bridge();
  kindNames ??= nameTable(k.Syntax.SyntaxKind);
  symbolKindNames ??= nameTable(k.Symbols.SymbolKind);
  const code = k.KustoCode.ParseAndAnalyze(query, globalsFor(tables, functions));
  return {
    root: copy(code.Syntax, kindNames, symbolKindNames),
    diagnostics: toArray(code.GetDiagnostics()).map(toDiagnostic),
    syntaxDiagnostics: toArray(code.GetSyntaxDiagnostics()).map(toDiagnostic),
  };
}

/** Children that are not punctuation or keywords: what an operator's parts are made of. */
export function parts(node: KqlNode): KqlNode[] {
  return node.parts;
}

/** True for a token (keyword, punctuation, identifier) rather than a syntax node. */
export function isToken(node: KqlNode): boolean {
  return node.kind.endsWith("Token") || node.kind.endsWith("Keyword");
}

/** The elements of a separated list (List of SeparatedElement), unwrapped. */
export function listItems(list: KqlNode | undefined): KqlNode[] {
  if (!list) return [];
  const cached = itemsCache.get(list);
  if (cached) return cached;
  const items = list.children
    .map((c) => (c.kind === "SeparatedElement" ? c.children.find((e) => !isToken(e)) : c))
    .filter((c): c is KqlNode => c !== undefined && !isToken(c));
  itemsCache.set(list, items);
  return items;
}

// The evaluator asks for the same lists once per row.
const itemsCache = new WeakMap<KqlNode, KqlNode[]>();

/** True when no part of the expression reads a column: its value is the same for every row. */
export function isRowIndependent(node: KqlNode): boolean {
  const cached = independentCache.get(node);
  if (cached !== undefined) return cached;
  const independent =
    !(node.kind === "NameReference" && node.ref?.kind === "Column") &&
    !(node.kind === "FunctionCallExpression" && node.ref?.name === "ingestion_time") &&
    node.parts.every(isRowIndependent);
  independentCache.set(node, independent);
  return independent;
}

const independentCache = new WeakMap<KqlNode, boolean>();

/** The name a NameReference or NameDeclaration spells. */
export function nameOf(node: KqlNode): string {
  // Bracketed names ['Name'] keep their quotes in the token; the analyser's symbol has the name.
  if (node.ref) return node.ref.name;
  const token = findToken(node);
  return token ? unquoteName(token.text) : "";
}

function unquoteName(text: string): string {
  if (text.startsWith("['") || text.startsWith('["')) return text.slice(2, -2);
  return text;
}

function findToken(node: KqlNode): KqlNode | undefined {
  if (isToken(node)) return node;
  for (const child of node.children) {
    const token = findToken(child);
    if (token) return token;
  }
  return undefined;
}

/** The first keyword token directly under a node (e.g. "asc" in an OrderingClause). */
export function keywordOf(node: KqlNode): string | undefined {
  return node.children.find((c) => c.kind.endsWith("Keyword"))?.text;
}
