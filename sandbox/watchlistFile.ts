// The sandbox's Sentinel watchlist as a CSV file a person edits while `npm run sandbox` runs: the
// file Sentinel's own "upload a watchlist" takes (a header row naming the columns, then one row
// per item; learn.microsoft.com/azure/sentinel/watchlists-create: CSV, comma-delimited). Quoted
// cells follow RFC 4180 (a cell with commas, quotes or line breaks is quoted, a quote doubled),
// which the Condition column needs: `"{ column: FolderPath, contains: Inventory }"`.
import { DataFileError } from "../functions/dataFile";
import type { Watchlist } from "./kql/watchlist";

/** Cells of CSV text (RFC 4180), each row with the line it starts on. */
export function parseCsv(text: string, source: string): { line: number; cells: string[] }[] {
  const rows: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = "";
  let line = 1;
  let rowLine = 1;
  let quoted = false;
  let i = 0;
  const endRow = (): void => {
    cells.push(cell);
    // A blank line is no row (an editor's trailing newline).
    if (cells.length > 1 || cells[0] !== "") rows.push({ line: rowLine, cells });
    cells = [];
    cell = "";
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else cell += c;
      if (c === "\n") line++;
      i++;
      continue;
    }
    if (c === '"' && cell === "") quoted = true;
    else if (c === ",") {
      cells.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRow();
      line++;
      rowLine = line;
    } else cell += c;
    i++;
  }
  if (quoted) throw new DataFileError(`${source}:${rowLine}: a quoted cell is never closed`);
  if (cell !== "" || cells.length > 0) endRow();
  return rows;
}

/** A cell as CSV writes it: quoted when it holds a comma, a quote or a line break. */
function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The CSV of a watchlist's items under a header of `columns`. */
export function watchlistCsv(columns: readonly string[], items: Watchlist["items"]): string {
  const lines = [columns, ...items.map((item) => columns.map((c) => item[c] ?? ""))];
  return `${lines.map((cells) => cells.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

/**
 * The watchlist a CSV file holds: its header names the columns, `searchKey` must be one of them.
 * Throws DataFileError `source:line: message` for a row with more cells than the header.
 */
export function readWatchlistCsv(text: string, source: string, searchKey: string): Watchlist {
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ""), source);
  if (!header) throw new DataFileError(`${source}:1: no header row (the watchlist's columns)`);
  const columns = header.cells.map((c) => c.trim());
  if (!columns.includes(searchKey)) {
    throw new DataFileError(
      `${source}:1: the header has no '${searchKey}' column, the watchlist's search key (${columns.join(",")})`,
    );
  }
  const items = rows.map(({ line, cells }) => {
    if (cells.length > columns.length) {
      throw new DataFileError(
        `${source}:${line}: ${cells.length} cells, the header has ${columns.length} (quote a cell that holds a comma)`,
      );
    }
    return Object.fromEntries(columns.map((column, i) => [column, cells[i] ?? ""]));
  });
  return { searchKey, items };
}
