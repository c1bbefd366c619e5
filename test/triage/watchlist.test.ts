import { Agent } from "node:https";
import { LocalStandinCredential } from "../../functions/azure/credentials";
import { createQueryClient } from "../../functions/query/detectionQuery";
import type { RunLog } from "../../functions/run/runLog";
import {
  EXCLUSIONS_WATCHLIST,
  exclusionsFromWatchlist,
  loadRunExclusions,
  readWatchlistRows,
  WatchlistReadError,
  watchlistQuery,
  type WatchlistRow,
} from "../../functions/triage/watchlist";
import { applyExclusions } from "../../functions/triage/exclusions";
import {
  startLogAnalyticsStandin,
  type LogAnalyticsStandin,
} from "../../sandbox/logAnalyticsStandin";
import { createLoopbackCertificate, type LoopbackCertificate } from "../../sandbox/tls";
import { makeEvent, makeHit } from "../support/events";

const NOW = new Date("2026-11-25T12:00:00Z");
const ALIAS = "nbtscan-exclusions";

/** A row as _GetWatchlist returns it, from the item's cells. */
function row(
  item: Record<string, string>,
  itemId = "00000000-0000-4000-8000-000000000001",
): WatchlistRow {
  return { searchKey: item.Name ?? "", itemId, item };
}

const GOOD = {
  Name: "it-nightly-inventory",
  Expires: "2026-12-31",
  Reason: "CHG0012345, verified with the IT asset team",
  Owner: "secops@contoso.com",
  Devices: "INV01.contoso.local, inv02.contoso.local",
  Accounts: "CONTOSO\\svc-inventory",
  Condition: "{ column: FolderPath, contains: Inventory }",
};

describe("exclusionsFromWatchlist: a row to an exclusion", () => {
  it("maps every column to its field: lists split at commas, the condition read as YAML flow or JSON", () => {
    const { exclusions, warnings } = exclusionsFromWatchlist(ALIAS, [
      row(GOOD),
      row({
        Name: "json-condition",
        Expires: "2026-12-31T18:00:00Z",
        Condition: '{"all":[{"column":"FileName","equals":"nbtscan.exe"}]}',
      }),
    ]);
    expect(warnings).toEqual([]);
    expect(exclusions.map((e) => e.name)).toEqual(["it-nightly-inventory", "json-condition"]);
    const [inventory, json] = exclusions;
    expect(inventory).toMatchObject({
      expires: "2026-12-31",
      expiresAt: new Date("2027-01-01T00:00:00Z"),
      reason: GOOD.Reason,
      owner: GOOD.Owner,
      devices: ["inv01.contoso.local", "inv02.contoso.local"],
      accounts: [{ domain: "contoso", name: "svc-inventory" }],
    });
    // Empty cells are absent fields: any device, any account.
    expect(json.devices).toBeUndefined();
    expect(json.accounts).toBeUndefined();

    const onInventory = makeHit(
      makeEvent({
        DeviceName: "inv02.contoso.local",
        FolderPath: "C:\\Program Files\\Inventory\\nbtscan.exe",
        InitiatingProcessAccountDomain: "CONTOSO",
        InitiatingProcessAccountName: "svc-inventory",
      }),
    );
    const elsewhere = makeHit(makeEvent({ DeviceName: "ws-fin-07.contoso.local" }));
    const outcome = applyExclusions([onInventory, elsewhere], {
      active: [inventory],
      expired: [],
    });
    expect(outcome.suppressed.map((s) => s.exclusion)).toEqual(["it-nightly-inventory"]);
    expect(outcome.kept).toEqual([elsewhere]);
  });

  it("skips a bad row with one warning naming the watchlist, the row and the field, with an example; the others apply", () => {
    const { exclusions, warnings } = exclusionsFromWatchlist(ALIAS, [
      row({ ...GOOD, Name: "bad-expiry", Expires: "2026-13-01" }),
      row(GOOD),
      row({ ...GOOD, Name: "bad-condition", Condition: "{ column: FolderPath, contains: [" }),
      row({
        ...GOOD,
        Name: "two-operators",
        Condition: "{ column: FileName, equals: a, contains: b }",
      }),
      row({ ...GOOD, Name: "", Expires: "" }, "00000000-0000-4000-8000-000000000009"),
    ]);
    expect(exclusions.map((e) => e.name)).toEqual(["it-nightly-inventory"]);
    expect(warnings).toHaveLength(4);
    for (const warning of warnings) {
      expect(warning).not.toMatch(/\n/);
      expect(warning).toMatch(
        /^exclusions watchlist 'nbtscan-exclusions' \(EXCLUSIONS_WATCHLIST\), row '[^']+': .*; row skipped, the others apply$/,
      );
    }
    expect(warnings[0]).toContain("row 'bad-expiry'");
    expect(warnings[0]).toContain("expires '2026-13-01' is not a date");
    expect(warnings[0]).toContain("e.g. Expires: 2026-06-30");
    expect(warnings[1]).toMatch(
      /row 'bad-condition': Condition is not JSON or YAML \(Condition:1:\d+: /,
    );
    expect(warnings[1]).toContain(`e.g. Condition: ${EXCLUSIONS_WATCHLIST.example.Condition}`);
    expect(warnings[2]).toContain("row 'two-operators'");
    expect(warnings[2]).toContain("has more than one operator");
    // No name: the row is called by its item id.
    expect(warnings[3]).toContain("row 'item 00000000-0000-4000-8000-000000000009'");
    expect(warnings[3]).toContain("'name' is missing; e.g. Name: it-nightly-inventory");
  });

  it("a name used twice, or already an exclusion of the file, is one line and the first one applies", () => {
    const { exclusions, warnings } = exclusionsFromWatchlist(
      ALIAS,
      [
        row(GOOD),
        row({ ...GOOD, Name: "IT-Nightly-Inventory" }),
        row({ ...GOOD, Name: "from-file" }),
      ],
      new Set(["from-file"]),
      "exclusions.yaml",
    );
    expect(exclusions.map((e) => e.name)).toEqual(["it-nightly-inventory"]);
    expect(warnings).toEqual([
      expect.stringContaining(
        "row 'IT-Nightly-Inventory': name 'IT-Nightly-Inventory' is used by an earlier row",
      ),
      expect.stringContaining(
        "row 'from-file': name 'from-file' is also an exclusion in exclusions.yaml, which applies; rename one of them",
      ),
    ]);
  });

  it("the template row the Bicep creates is a valid exclusion that suppresses nothing", () => {
    const { exclusions, warnings } = exclusionsFromWatchlist(ALIAS, [
      row(EXCLUSIONS_WATCHLIST.templateRow),
    ]);
    expect(warnings).toEqual([]);
    expect(exclusions).toHaveLength(1);
    expect(Object.keys(EXCLUSIONS_WATCHLIST.templateRow)).toEqual(EXCLUSIONS_WATCHLIST.columns);
    const hits = [
      makeHit(makeEvent({ DeviceName: "ws-fin-07.contoso.local" })),
      makeHit(makeEvent({ DeviceName: "inv01.contoso.local", FolderPath: "C:\\Inventory" })),
    ];
    const outcome = applyExclusions(hits, { active: exclusions, expired: [] });
    expect(outcome.suppressed).toEqual([]);
    expect(outcome.kept).toEqual(hits);
  });

  it("ignores columns an analyst added (a ticket link, a comment)", () => {
    const { exclusions, warnings } = exclusionsFromWatchlist(ALIAS, [
      row({ ...GOOD, Ticket: "https://tickets.contoso.com/CHG0012345" }),
    ]);
    expect(warnings).toEqual([]);
    expect(exclusions).toHaveLength(1);
  });

  it("quotes only aliases that are safe as a KQL string literal", () => {
    expect(watchlistQuery(ALIAS)).toMatch(/^let WatchlistAlias = 'nbtscan-exclusions';\n/);
    expect(() => watchlistQuery("x'; DeviceProcessEvents //")).toThrow(RangeError);
  });
});

describe("reading the watchlist through the Log Analytics client", () => {
  const WORKSPACE_ID = "6a8e4b1c-2d3f-4e5a-9b7c-0d1e2f3a4b5c";
  let tls: LoopbackCertificate;
  let agent: Agent;
  let standin: LogAnalyticsStandin;
  const warnings: string[] = [];
  const log: RunLog = {
    info: () => undefined,
    warn: (m) => warnings.push(m),
    error: () => undefined,
  };

  beforeAll(async () => {
    tls = await createLoopbackCertificate();
    agent = new Agent({ ca: tls.cert });
    standin = await startLogAnalyticsStandin({ workspaceId: WORKSPACE_ID, tls, events: [] });
  });
  afterAll(async () => {
    agent.destroy();
    await standin.close();
  });
  beforeEach(() => {
    warnings.length = 0;
  });

  function query(endpoint = standin.url): Parameters<typeof readWatchlistRows>[0] {
    return {
      client: createQueryClient(new LocalStandinCredential(), {
        endpoint: new URL(endpoint),
        timeoutMs: 5000,
        maxRetryAfterMs: 1000,
        agent,
        maxRetries: 0,
      }),
      workspaceId: WORKSPACE_ID,
      timeoutMs: 5000,
    };
  }

  it("reads each item's search key, id and cells with _GetWatchlist, the KQL file's query", async () => {
    standin.setWatchlist(ALIAS, { searchKey: "Name", items: [GOOD] });
    const rows = await readWatchlistRows(query(), ALIAS);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ searchKey: GOOD.Name, item: GOOD });
    expect(rows[0].itemId).toMatch(/^[0-9a-f-]{36}$/);
    expect(standin.requests.at(-1)).toMatchObject({ status: 200, rowCount: 1 });
  });

  it("an empty watchlist (only its columns) and a missing one read as no exclusions", async () => {
    standin.setWatchlist(ALIAS, { searchKey: "Name", items: [] });
    await expect(readWatchlistRows(query(), ALIAS)).resolves.toEqual([]);
    standin.setWatchlist(ALIAS, undefined);
    await expect(readWatchlistRows(query(), ALIAS)).resolves.toEqual([]);
  });

  it("merges the watchlist's exclusions with the inline ones and warns for each expired one", async () => {
    standin.setWatchlist(ALIAS, {
      searchKey: "Name",
      items: [GOOD, { ...GOOD, Name: "old-scan", Expires: "2026-01-31" }],
    });
    const inline =
      "exclusions: [{ name: from-inline, expires: 2026-12-31, condition: { column: FileName, equals: x.exe } }]";
    const set = await loadRunExclusions({ inline, watchlist: ALIAS }, query(), NOW, log);
    expect(set.active.map((e) => e.name)).toEqual(["from-inline", "it-nightly-inventory"]);
    expect(set.expired.map((e) => e.name)).toEqual(["old-scan"]);
    expect(warnings).toEqual([
      "exclusion 'old-scan' expired on 2026-01-31; it no longer suppresses anything",
    ]);
  });

  it("an unreadable watchlist fails the read with one line naming it, the setting and Log Analytics", async () => {
    const failure = await loadRunExclusions(
      { watchlist: ALIAS },
      query("https://127.0.0.1:9/v1"),
      NOW,
      log,
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(WatchlistReadError);
    expect((failure as Error).message).toMatch(
      /^exclusions watchlist 'nbtscan-exclusions' \(EXCLUSIONS_WATCHLIST\) could not be read from Log Analytics: .*ECONNREFUSED/,
    );
    expect((failure as Error).message).not.toMatch(/\n/);
  });
});
