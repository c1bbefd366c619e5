// Conformance of the local engine's tabular operators and statements, each against its page under
// learn.microsoft.com/kusto/query/ (named in the describe).
import { KqlUnsupportedError } from "../../../sandbox/kql/errors";
import { column, run, type TestTable } from "./run";

const T: TestTable = {
  columns: { Name: "string", Size: "long", When: "datetime", Bag: "dynamic" },
  rows: [
    { Name: "a", Size: 3, When: "2026-11-25T08:00:00Z", Bag: '{"k":"x"}' },
    { Name: "b", Size: 1, When: "2026-11-25T09:00:00Z", Bag: '{"k":"y"}' },
    { Name: "c", Size: null, When: "2026-11-25T10:00:00Z", Bag: "[1,2]" },
    { Name: "a", Size: 2, When: "2026-11-25T11:00:00Z", Bag: "null" },
  ],
  ingested: [
    "2026-11-25T08:01:00Z",
    "2026-11-25T09:01:00Z",
    "2026-11-25T10:01:00Z",
    "2026-11-25T11:01:00Z",
  ],
};
const U: TestTable = {
  columns: { Name: "string", Owner: "string" },
  rows: [
    { Name: "a", Owner: "ann" },
    { Name: "a", Owner: "amy" },
    { Name: "z", Owner: "zed" },
  ],
};
const tables = { T, U };

describe("let (let-statement)", () => {
  it("binds scalars, dynamic values, datetimes, timespans and tables", () => {
    const q = `let n = 2; let names = dynamic(["a", "c"]); let start = datetime(2026-11-25 08:30);
      let span = 2h; let big = T | where Size >= n;
      big | where Name in (names) and When between (start .. span) | project Name`;
    expect(column(q, tables)).toEqual([]);
    expect(
      column(`let names = pack_array("a", "c"); T | where Name in (names) | project Name`, tables),
    ).toEqual(["a", "c", "a"]);
  });
});

describe("union (union-operator)", () => {
  it("concatenates tables, names the source with withsource, and fills missing columns", () => {
    const result = run("union withsource=Source T, U | project Source, Name, Owner, Size", tables);
    expect(result.columns).toEqual(["Source", "Name", "Owner", "Size"]);
    expect(result.rows).toEqual([
      ["T", "a", "", 3],
      ["T", "b", "", 1],
      ["T", "c", "", null],
      ["T", "a", "", 2],
      ["U", "a", "ann", null],
      ["U", "a", "amy", null],
      ["U", "z", "zed", null],
    ]);
  });

  it("keeps each row's ingestion_time()", () => {
    expect(
      column(
        "union T, U | where ingestion_time() > datetime(2026-11-25 10:00) | project Name",
        tables,
      ),
    ).toEqual(["c", "a"]);
  });
});

describe("where, project, project-away, project-rename, extend (their operator pages)", () => {
  it("where keeps rows whose predicate is true; a null predicate drops the row (null-values page)", () => {
    expect(column("T | where Size > 1 | project Name", tables)).toEqual(["a", "a"]);
    // != between null and a value is true (null-values page), so the null Size passes.
    expect(column("T | where Size != 3 | project Name", tables)).toEqual(["b", "c", "a"]);
    expect(column("T | where not(Size > 1) | project Name", tables)).toEqual(["b"]);
  });

  it("project names computed columns as the service does (Column1, and given names)", () => {
    const result = run("T | take 1 | project Name, Double = Size * 2, Size + 1", tables);
    expect(result.columns).toEqual(["Name", "Double", "Column1"]);
    expect(result.rows).toEqual([["a", 6, 4]]);
  });

  it("project-away drops, project-rename renames, extend adds and replaces in place", () => {
    expect(run("T | take 1 | project-away Bag, When", tables).columns).toEqual(["Name", "Size"]);
    expect(run("T | take 1 | project-rename Label = Name", tables).columns).toEqual([
      "Label",
      "Size",
      "When",
      "Bag",
    ]);
    const extended = run("T | take 1 | extend Size = Size * 10, K = tostring(Bag.k)", tables);
    expect(extended.columns).toEqual(["Name", "Size", "When", "Bag", "K"]);
    expect(extended.rows[0]).toEqual(["a", 30, "2026-11-25T08:00:00.0000000Z", { k: "x" }, "x"]);
  });
});

describe("sort/order by, top, take/limit (sort-operator, top-operator, take-operator)", () => {
  it("sorts descending by default, nulls last when descending and first when ascending", () => {
    expect(column("T | order by Size | project Size", tables)).toEqual([3, 2, 1, null]);
    expect(column("T | sort by Size asc | project Size", tables)).toEqual([null, 1, 2, 3]);
    expect(column("T | sort by Size asc nulls last | project Size", tables)).toEqual([
      1,
      2,
      3,
      null,
    ]);
    expect(column("T | order by Name asc, When desc | project When", tables)).toEqual([
      "2026-11-25T11:00:00.0000000Z",
      "2026-11-25T08:00:00.0000000Z",
      "2026-11-25T09:00:00.0000000Z",
      "2026-11-25T10:00:00.0000000Z",
    ]);
  });

  it("top takes the first N by the key; take and limit take N rows", () => {
    expect(column("T | top 2 by When asc | project Name", tables)).toEqual(["a", "b"]);
    expect(column("T | top 1 by Size | project Size", tables)).toEqual([3]);
    expect(column("T | take 2 | project Name", tables)).toHaveLength(2);
    expect(column("T | limit 0 | project Name", tables)).toEqual([]);
  });
});

describe("distinct, count, summarize (distinct-operator, count-operator, summarize-operator, aggregation functions)", () => {
  it("distinct returns each combination once", () => {
    expect(column("T | distinct Name", tables)).toEqual(["a", "b", "c"]);
    expect(run("U | distinct Name, Owner", tables).rows).toHaveLength(3);
  });

  it("count returns one row with the row count", () => {
    expect(run("T | where Name == 'a' | count", tables)).toEqual({
      columns: ["Count"],
      rows: [[2]],
    });
  });

  it("summarize names unnamed aggregates as the service does and ignores nulls", () => {
    const result = run(
      "T | summarize count(), max(Size), total = sum(Size), dcount(Name) by Name",
      tables,
    );
    expect(result.columns).toEqual(["Name", "count_", "max_Size", "total", "dcount_Name"]);
    expect(result.rows).toEqual([
      ["a", 2, 3, 5, 1],
      ["b", 1, 1, 1, 1],
      ["c", 1, null, null, 1],
    ]);
  });

  it("summarize without by over no rows gives one row: count 0, the others null", () => {
    const result = run(
      "T | where Size > 100 | summarize n = count(), oldest = min(When), d = dcount(Name)",
      tables,
    );
    expect(result.rows).toEqual([[0, null, 0]]);
    expect(run("T | where Size > 100 | summarize n = count() by Name", tables).rows).toEqual([]);
  });

  it("arg_min/arg_max return the row of the extreme value, with * or listed columns", () => {
    const star = run("T | summarize arg_min(When, *) by Name | project Name, When, Size", tables);
    expect(star.rows).toEqual([
      ["a", "2026-11-25T08:00:00.0000000Z", 3],
      ["b", "2026-11-25T09:00:00.0000000Z", 1],
      ["c", "2026-11-25T10:00:00.0000000Z", null],
    ]);
    const listed = run("T | summarize arg_max(When, Size) by Name | where Name == 'a'", tables);
    expect(listed).toEqual({
      columns: ["Name", "When", "Size"],
      rows: [["a", "2026-11-25T11:00:00.0000000Z", 2]],
    });
  });

  it("summarize by bin() groups into buckets; make_set collects distinct values", () => {
    const result = run("T | summarize names = make_set(Name) by bin(When, 2h)", tables);
    expect(result.columns).toEqual(["When", "names"]);
    expect(result.rows).toEqual([
      ["2026-11-25T08:00:00.0000000Z", ["a", "b"]],
      ["2026-11-25T10:00:00.0000000Z", ["c", "a"]],
    ]);
  });
});

describe("join (join-operator)", () => {
  it("innerunique (the default) keeps one left row per key before matching", () => {
    const result = run("T | join U on Name | project Name, Owner, Size", tables);
    expect(result.rows).toEqual([
      ["a", "ann", 3],
      ["a", "amy", 3],
    ]);
  });

  it("inner matches every left row; the right side's clashing key is renamed Name1", () => {
    const result = run("T | join kind=inner U on Name", tables);
    expect(result.columns).toEqual(["Name", "Size", "When", "Bag", "Name1", "Owner"]);
    expect(result.rows).toHaveLength(4);
  });

  it("leftouter keeps unmatched left rows; leftanti only those; leftsemi only matched", () => {
    expect(run("T | join kind=leftouter U on Name | where Name == 'b'", tables).rows).toEqual([
      ["b", 1, "2026-11-25T09:00:00.0000000Z", { k: "y" }, "", ""],
    ]);
    expect(column("T | join kind=leftanti U on Name | project Name", tables)).toEqual(["b", "c"]);
    expect(column("T | join kind=leftsemi U on Name | project Size", tables)).toEqual([3, 2]);
    expect(column("T | join kind=rightanti U on Name | project Owner", tables)).toEqual(["zed"]);
  });

  it("joins on $left.X == $right.Y", () => {
    expect(
      column(
        "U | join kind=inner (T | project Label = Name, Size) on $left.Name == $right.Label | project Owner",
        tables,
      ),
    ).toEqual(["ann", "ann", "amy", "amy"]);
  });
});

describe("print, toscalar (print-operator, toscalar-function)", () => {
  it("print makes one row; toscalar reads the first cell of a sub-query", () => {
    expect(run("print x = 1, y = 'a'")).toEqual({ columns: ["x", "y"], rows: [[1, "a"]] });
    expect(run("let n = toscalar(T | count); print n", tables).rows).toEqual([[4]]);
    expect(
      run("let m = toscalar(T | where Size > 100 | project Size); print isnull(m)", tables).rows,
    ).toEqual([[true]]);
  });
});

describe("watchlists: _GetWatchlist('alias') (Sentinel watchlists-queries)", () => {
  const watchlists = {
    hosts: {
      searchKey: "Host",
      items: [
        { Host: "ws-1", Reason: "inventory job" },
        { Host: "ws-2", Reason: "red team" },
      ],
    },
  };

  it("returns one row per item with _DTItemId, LastUpdatedTimeUTC, SearchKey, WatchlistItem and the item's columns", () => {
    const result = run("_GetWatchlist('hosts')", {}, { watchlists });
    expect(result.columns).toEqual([
      "_DTItemId",
      "LastUpdatedTimeUTC",
      "SearchKey",
      "WatchlistItem",
      "Host",
      "Reason",
    ]);
    expect(result.rows.map((r) => r.slice(2))).toEqual([
      ["ws-1", { Host: "ws-1", Reason: "inventory job" }, "ws-1", "inventory job"],
      ["ws-2", { Host: "ws-2", Reason: "red team" }, "ws-2", "red team"],
    ]);
    expect(new Set(result.rows.map((r) => r[0])).size).toBe(2);
  });

  it("joins on SearchKey and returns no rows for an unknown alias", () => {
    const hosts: TestTable = {
      columns: { DeviceName: "string" },
      rows: [{ DeviceName: "ws-2" }, { DeviceName: "ws-3" }],
    };
    expect(
      column(
        "H | join kind=leftanti (_GetWatchlist('hosts') | project SearchKey) on $left.DeviceName == $right.SearchKey",
        { H: hosts },
        { watchlists },
      ),
    ).toEqual(["ws-3"]);
    expect(run("_GetWatchlist('nope')", {}, { watchlists }).rows).toEqual([]);
  });
});

describe("constructs outside the subset: refused, naming the construct", () => {
  it.each([
    ["T | mv-expand Bag", "the 'mv-expand' operator"],
    ["T | parse Name with x", "the 'parse' operator"],
    ["T | summarize percentile(Size, 50)", "the aggregation function percentile()"],
    ["T | extend x = parse_url(Name)", "the function parse_url()"],
    ["T | join kind=fullouter U on Name", "join kind=fullouter"],
    ["T | where Name like 'a'", ""],
    ["let f = (x: long) { x + 1 }; T | extend y = f(Size)", ""],
    ["range x from 1 to 3 step 1", "range"],
  ])("%s", (query, named) => {
    let error: unknown;
    try {
      run(query, tables);
    } catch (e) {
      error = e;
    }
    if (error instanceof KqlUnsupportedError) {
      expect(error.message).toMatch(/^The local KQL engine \(sandbox\) does not support /);
      expect(error.message).toContain(named);
      expect(error.message.split("\n")).toHaveLength(1);
    } else {
      // Not KQL at all: the analyser's own error, as the service would give it.
      expect(error).toBeInstanceOf(Error);
      expect(named).toBe("");
    }
  });
});
