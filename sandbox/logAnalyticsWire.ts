import type { KqlColumn } from "./kusto";

// The Log Analytics query API's JSON, as documented ("Azure Monitor Log Analytics API response
// format" and "... API errors") and as @azure/monitor-query-logs parses it.

/** A cell of a result row: Kusto serialises datetimes and dynamics as strings, numbers as numbers. */
export type WireCell = string | number | boolean | null;

/** One table of a query response. */
export interface WireTable {
  name: string;
  columns: KqlColumn[];
  rows: WireCell[][];
}

/** The API's OneAPI error object; nested `innererror`s carry the engine's detail. */
export interface WireError {
  code: string;
  message: string;
  details?: WireErrorDetail[];
  innererror?: WireInnerError;
}

/** An entry of `error.details`. */
export interface WireErrorDetail {
  code: string;
  message: string;
  innererror?: WireInnerError;
}

/** An `innererror`, which may add engine fields (line, pos, severity). */
export interface WireInnerError {
  code: string;
  message: string;
  innererror?: WireInnerError;
  [extra: string]: string | number | WireInnerError | undefined;
}

/**
 * What the service says a query read (Prefer: include-statistics=true). The fields the stand-in
 * fills; the service adds more (executionTime, resourceUsage, datasetStatistics, ...).
 */
export interface QueryStatistics {
  query: {
    inputDatasetStatistics: {
      extents: { total: number; scanned: number };
      rows: { total: number; scanned: number };
    };
  };
}

/** A 200 response: the tables, plus `error` when the result is partial, and any statistics. */
export interface QueryResponse {
  tables: WireTable[];
  error?: WireError;
  statistics?: QueryStatistics;
}

/** A non-200 response: status and `{ error }` body. */
export interface ErrorResponse {
  status: number;
  body: { error: WireError };
}

/** The documented error responses the stand-in gives. */
export const apiErrors = {
  missingAuthorization: (): ErrorResponse => ({
    status: 401,
    body: {
      error: {
        code: "AuthenticationFailed",
        message: "Authentication failed. The 'Authorization' header is missing.",
      },
    },
  }),
  malformedAuthorization: (): ErrorResponse => ({
    status: 401,
    body: {
      error: {
        code: "AuthenticationFailed",
        message:
          "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      },
    },
  }),
  invalidToken: (): ErrorResponse => ({
    status: 403,
    body: {
      error: { code: "InvalidAuthenticationToken", message: "The access token is invalid." },
    },
  }),
  workspaceNotFound: (workspaceId: string): ErrorResponse => ({
    status: 404,
    body: {
      error: {
        code: "WorkspaceNotFoundError",
        message: `The workspace could not be found: workspace '${workspaceId}' does not exist`,
      },
    },
  }),
  pathNotFound: (): ErrorResponse => ({
    status: 404,
    body: { error: { code: "PathNotFoundError", message: "The requested path does not exist" } },
  }),
  badArgument: (message: string, innererror?: WireInnerError): ErrorResponse => ({
    status: 400,
    body: {
      error: {
        code: "BadArgumentError",
        message,
        ...(innererror ? { innererror } : {}),
      },
    },
  }),
  syntaxError: (detail: string, line: number, pos: number): ErrorResponse =>
    apiErrors.badArgument("The request had some invalid properties", {
      code: "SyntaxError",
      message: "A recognition error occurred in the query.",
      innererror: {
        code: "SYN0002",
        message: `Query could not be parsed at line ${line}, position ${pos}: ${detail}`,
        line,
        pos,
      },
    }),
  semanticError: (detail: string): ErrorResponse =>
    apiErrors.badArgument("The request had some invalid properties", {
      code: "SemanticError",
      message: "A semantic error occurred.",
      innererror: { code: "SEM0100", message: detail },
    }),
};

/** The `error` of a 200 response whose rows were cut at the engine's result-set limit. */
export function resultTruncatedError(limit: number): WireError {
  const message =
    `Query result set has exceeded the internal record count limit ${limit} ` +
    "(E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)";
  return {
    code: "PartialError",
    message: "There were some errors when processing your query.",
    details: [
      {
        code: "EngineError",
        message,
        innererror: {
          code: "E_QUERY_RESULT_SET_TOO_LARGE",
          message,
          severity: 2,
          severityName: "Error",
        },
      },
    ],
  };
}

/** Formats a datetime the way the service does: UTC with seven fractional digits. */
function kustoDatetime(value: string): string {
  const precise = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,7}))?Z$/.exec(value);
  if (precise) return `${precise[1]}.${(precise[2] ?? "").padEnd(7, "0")}Z`;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error(`'${value}' is not a datetime`);
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");
}

function cell(column: KqlColumn, raw: string | undefined): WireCell {
  // Kusto strings are never null (a column a union member lacks reads as ""); other types are.
  if (column.type === "string") return raw ?? "";
  if (raw === undefined || raw === "") return null;
  switch (column.type) {
    case "datetime":
      return kustoDatetime(raw);
    case "long":
    case "int":
    case "real": {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new Error(`${column.name}: '${raw}' is not a ${column.type}`);
      return n;
    }
    case "bool":
      return raw.toLowerCase() === "true";
    default:
      // guid, timespan, decimal, and dynamic (which the API sends as JSON text).
      return raw;
  }
}

/** Builds the PrimaryResult table: the query's columns, each row's values typed by column. */
export function resultTable(columns: KqlColumn[], events: readonly object[]): WireTable {
  return {
    name: "PrimaryResult",
    columns: columns.map(({ name, type }) => ({ name, type })),
    rows: events.map((event) => {
      const values = event as unknown as Record<string, string | undefined>;
      return columns.map((c) => cell(c, values[c.name]));
    }),
  };
}
