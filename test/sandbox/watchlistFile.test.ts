import { DataFileError } from "../../functions/dataFile";
import { EXCLUSIONS_WATCHLIST } from "../../functions/triage/watchlist";
import { parseCsv, readWatchlistCsv, watchlistCsv } from "../../sandbox/watchlistFile";

describe("the sandbox's watchlist CSV", () => {
  it("reads quoted cells with commas, doubled quotes and line breaks (RFC 4180), CRLF or LF", () => {
    const text = 'Name,Condition\r\na,"{ column: FileName, equals: ""x,y"" }"\nb,"two\nlines"\n\n';
    expect(parseCsv(text, "w.csv")).toEqual([
      { line: 1, cells: ["Name", "Condition"] },
      { line: 2, cells: ["a", '{ column: FileName, equals: "x,y" }'] },
      { line: 3, cells: ["b", "two\nlines"] },
    ]);
  });

  it("writes what it reads: the contract's columns, the example row", () => {
    const item = Object.fromEntries(
      EXCLUSIONS_WATCHLIST.columns.map((c) => [c, EXCLUSIONS_WATCHLIST.example[c] ?? ""]),
    );
    const csv = watchlistCsv(EXCLUSIONS_WATCHLIST.columns, [item]);
    expect(csv.split("\r\n")[0]).toBe(EXCLUSIONS_WATCHLIST.columns.join(","));
    expect(readWatchlistCsv(csv, "w.csv", "Name")).toEqual({ searchKey: "Name", items: [item] });
  });

  it("names the file and line of a row with more cells than the header, and of a missing search key", () => {
    expect(() => readWatchlistCsv("Name,Expires\na,2027-01-31,extra\n", "w.csv", "Name")).toThrow(
      new DataFileError("w.csv:2: 3 cells, the header has 2 (quote a cell that holds a comma)"),
    );
    expect(() => readWatchlistCsv("Key,Expires\n", "w.csv", "Name")).toThrow(
      /^w\.csv:1: the header has no 'Name' column/,
    );
    expect(() => readWatchlistCsv('Name\n"open', "w.csv", "Name")).toThrow(
      "w.csv:2: a quoted cell is never closed",
    );
  });
});
