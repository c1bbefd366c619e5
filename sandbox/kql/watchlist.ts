import { KqlRuntimeError } from "./errors";
import type { FunctionDeclaration } from "./syntax";
import { KqlDateTime, type Column, type KqlValue, type Table } from "./values";

// Microsoft Sentinel watchlists as a query sees them: `_GetWatchlist('alias')`, a workspace
// function (learn.microsoft.com/azure/sentinel/watchlists-queries: "use the _GetWatchlist
// ('watchlist-name') function and use SearchKey as the key for your join"). The function reads
// the Watchlist table: per item (_DTItemId) its latest version, deleted items dropped, then the
// item's own columns unpacked from WatchlistItem (the Watchlist table reference,
// learn.microsoft.com/azure/azure-monitor/reference/tables/watchlist, and the function's body as
// Sentinel troubleshooting guides show it: `summarize arg_max(_DTTimestamp, _DTItemStatus,
// LastUpdatedTimeUTC, SearchKey, WatchlistItem) by _DTItemId | where _DTItemStatus != "Delete"
// | project-away _DTTimestamp, _DTItemStatus | evaluate bag_unpack(WatchlistItem)`).
// So a row has _DTItemId, LastUpdatedTimeUTC, SearchKey (the value of the watchlist's search-key
// column), the item as a dynamic bag (WatchlistItem), and each item column as a string column
// (watchlist items are CSV cells: text).
//
// Local limits: the analyser learns one column list for the function, the union of every served
// watchlist's item columns; a watchlist without one of them reads it as "". An alias with no
// watchlist returns no rows, as the function over an empty Watchlist table does.

/** One watchlist: its search-key column and its items (column → cell text). */
export interface Watchlist {
  /** The item column whose value is each row's SearchKey (the watchlist's itemsSearchKey). */
  searchKey: string;
  items: readonly Record<string, string>[];
  /** LastUpdatedTimeUTC of the items; the Unix epoch when not given. */
  updated?: Date;
}

/** Watchlists by alias. */
export type Watchlists = Readonly<Record<string, Watchlist>>;

const FIXED_COLUMNS: readonly Column[] = [
  { name: "_DTItemId", type: "string" },
  { name: "LastUpdatedTimeUTC", type: "datetime" },
  { name: "SearchKey", type: "string" },
  { name: "WatchlistItem", type: "dynamic" },
];

function itemColumns(watchlists: Watchlists): string[] {
  const names = new Set<string>();
  for (const [alias, watchlist] of Object.entries(watchlists)) {
    for (const item of watchlist.items) {
      if (!Object.prototype.hasOwnProperty.call(item, watchlist.searchKey)) {
        throw new KqlRuntimeError(
          `watchlist '${alias}': an item lacks its search key column '${watchlist.searchKey}'`,
        );
      }
      for (const name of Object.keys(item)) names.add(name);
    }
  }
  const fixed = new Set(FIXED_COLUMNS.map((c) => c.name));
  return [...names].filter((n) => !fixed.has(n)).sort();
}

/** The `_GetWatchlist` declaration the analyser needs, with these watchlists' columns. */
export function watchlistFunction(watchlists: Watchlists): FunctionDeclaration {
  const columns = [
    ...FIXED_COLUMNS.map((c) => `['${c.name}']: ${c.type}`),
    ...itemColumns(watchlists).map((name) => {
      if (name.includes("'") || name.includes("]") || name.includes("\\")) {
        throw new KqlRuntimeError(
          `watchlist column '${name}': quotes, backslashes and ] are not supported`,
        );
      }
      return `['${name}']: string`;
    }),
  ];
  return {
    name: "_GetWatchlist",
    parameters: "(watchlistAlias: string)",
    body: `{ datatable(${columns.join(", ")})[] }`,
  };
}

/** The rows `_GetWatchlist(alias)` returns, in the analyser's column order. */
export function watchlistTable(watchlists: Watchlists, alias: string, columns: Column[]): Table {
  const watchlist = Object.prototype.hasOwnProperty.call(watchlists, alias)
    ? watchlists[alias]
    : undefined;
  if (!watchlist) return { columns, rows: [] };
  const updated = new KqlDateTime((watchlist.updated ?? new Date(0)).getTime());
  return {
    columns,
    rows: watchlist.items.map((item, i) => {
      const fixed: Record<string, KqlValue> = {
        // A stable id per item, shaped like the service's GUIDs.
        _DTItemId: `00000000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`,
        LastUpdatedTimeUTC: updated,
        SearchKey: item[watchlist.searchKey] ?? "",
        WatchlistItem: { ...item },
      };
      return {
        values: columns.map((c) =>
          Object.prototype.hasOwnProperty.call(fixed, c.name)
            ? fixed[c.name]
            : (item[c.name] ?? ""),
        ),
        ingestionTime: null,
      };
    }),
  };
}
