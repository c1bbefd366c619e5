// Exclusions from the Sentinel watchlist (EXCLUSIONS_WATCHLIST) through the real timer handler:
// the Log Analytics stand-in serves the watchlist to `_GetWatchlist`, as the workspace does.
import type { DetectionEvent } from "../../functions/model";
import { EXCLUSIONS_WATCHLIST } from "../../functions/triage/watchlist";
import { makeEvent } from "../support/events";
import { useSandboxes, MINUTE, type LogLine, type Sandbox, type SandboxOptions } from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const ALIAS = "nbtscan-exclusions";

const inventoryHost = { DeviceName: "inv01.contoso.local", DeviceId: "1".repeat(40) };
const workstation = { DeviceName: "ws-fin-07.contoso.local", DeviceId: "2".repeat(40) };

/** A process event generated and ingested `ago` before `now`. */
function eventAt(now: Date, ago: number, host: Partial<DetectionEvent>): DetectionEvent {
  const time = new Date(now.getTime() - ago).toISOString();
  return makeEvent({ ...host, TimeGenerated: time, Timestamp: time, IngestionTime: time });
}

/** A watchlist item, every column as a cell of text (the contract's columns). */
function item(cells: Record<string, string>): Record<string, string> {
  const empty = Object.fromEntries(EXCLUSIONS_WATCHLIST.columns.map((c) => [c, ""]));
  return { ...empty, ...cells };
}

const inventoryExclusion = item({
  Name: "inventory-scan",
  Expires: "2027-01-31",
  Reason: "CHG0012345, nightly inventory verified",
  Owner: "secops@contoso.com",
  Devices: inventoryHost.DeviceName,
  Condition: "{ column: FileName, equals: nbtscan.exe }",
});

const sandboxes = useSandboxes(START);
function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  return sandboxes.create({ ...options, env: { EXCLUSIONS_WATCHLIST: ALIAS, ...options.env } });
}

function hostsDelivered(s: Sandbox): string[] {
  return s.delivered().flatMap((i) => i.entities.hosts.map((h) => h.hostName));
}

function warnings(logs: LogLine[]): string[] {
  return logs.filter((l) => l.level === "warning").map((l) => l.message);
}

describe("exclusions from the Sentinel watchlist", () => {
  it("an exclusion an analyst adds to the watchlist suppresses the matching hit on the next run", async () => {
    const s = await sandbox({ events: [eventAt(START, 10 * MINUTE, inventoryHost)] });
    s.la.setWatchlist(ALIAS, { searchKey: EXCLUSIONS_WATCHLIST.searchKey, items: [] });

    // Before the exclusion exists the hit is an incident; adding it later takes nothing back.
    const first = await s.run();
    expect(first.summary).toMatchObject({ new: 1, suppressed: 0, delivered: 1 });
    expect(hostsDelivered(s)).toEqual([inventoryHost.DeviceName]);

    s.la.setWatchlist(ALIAS, {
      searchKey: EXCLUSIONS_WATCHLIST.searchKey,
      items: [inventoryExclusion],
    });
    s.advance(5 * MINUTE);
    s.la.addEvents([
      eventAt(s.now, 4 * MINUTE, inventoryHost),
      eventAt(s.now, 4 * MINUTE, workstation),
    ]);
    const second = await s.run();

    // `new` counts the hits that became incidents; the suppressed one is counted apart.
    expect(second.summary).toMatchObject({
      new: 1,
      suppressed: 1,
      suppressedBy: { "inventory-scan": 1 },
      delivered: 1,
    });
    expect(hostsDelivered(s)).toEqual([inventoryHost.DeviceName, workstation.DeviceName]);
    expect(warnings(second.logs)).toEqual([]);
  });

  it("a malformed row is one warning naming the watchlist, the row and the field; the other rows apply", async () => {
    const s = await sandbox({
      events: [
        eventAt(START, 10 * MINUTE, inventoryHost),
        eventAt(START, 10 * MINUTE, workstation),
      ],
    });
    s.la.setWatchlist(ALIAS, {
      searchKey: EXCLUSIONS_WATCHLIST.searchKey,
      items: [
        item({
          Name: "finance-sweep",
          Expires: "next tuesday",
          Devices: workstation.DeviceName,
          Condition: "{ column: FileName, equals: nbtscan.exe }",
        }),
        inventoryExclusion,
      ],
    });
    const { summary, logs } = await s.run();

    expect(summary).toMatchObject({
      new: 1,
      suppressed: 1,
      suppressedBy: { "inventory-scan": 1 },
      delivered: 1,
    });
    expect(hostsDelivered(s)).toEqual([workstation.DeviceName]);
    expect(warnings(logs)).toEqual([
      `exclusions watchlist '${ALIAS}' (EXCLUSIONS_WATCHLIST), row 'finance-sweep': expires ` +
        "'next tuesday' is not a date or a date-time with a time zone; e.g. Expires: " +
        `${EXCLUSIONS_WATCHLIST.example.Expires}; row skipped, the others apply`,
    ]);
  });

  it("watchlist and inline exclusions apply together; a name in both is one line and the inline one applies", async () => {
    const inline = JSON.stringify({
      exclusions: [
        {
          name: "inventory-scan",
          expires: "2027-01-31",
          devices: [workstation.DeviceName],
          condition: { column: "FileName", equals: "nbtscan.exe" },
        },
      ],
    });
    const s = await sandbox({
      events: [
        eventAt(START, 10 * MINUTE, inventoryHost),
        eventAt(START, 10 * MINUTE, workstation),
      ],
      env: { EXCLUSIONS: inline },
    });
    s.la.setWatchlist(ALIAS, {
      searchKey: EXCLUSIONS_WATCHLIST.searchKey,
      items: [inventoryExclusion],
    });
    const { summary, logs } = await s.run();

    expect(summary).toMatchObject({ suppressed: 1, delivered: 1 });
    expect(hostsDelivered(s)).toEqual([inventoryHost.DeviceName]);
    expect(warnings(logs)).toEqual([
      expect.stringMatching(
        /^exclusions watchlist 'nbtscan-exclusions' \(EXCLUSIONS_WATCHLIST\), row 'inventory-scan': name 'inventory-scan' is also an exclusion in EXCLUSIONS, which applies; rename one of them; row skipped/,
      ),
    ]);
  });

  it("an unreadable watchlist fails the run with one line naming Log Analytics and EXCLUSIONS_WATCHLIST; the next run loses nothing", async () => {
    const s = await sandbox({ events: [eventAt(START, 10 * MINUTE, workstation)] });
    s.la.setWatchlist(ALIAS, { searchKey: EXCLUSIONS_WATCHLIST.searchKey, items: [] });
    // The identity may not read the Watchlist table: Log Analytics refuses the query.
    s.la.enqueueFault({ status: 403 });

    const failure = (await s.run().catch((e: unknown) => e)) as Error & { logs: LogLine[] };
    expect(failure).toBeInstanceOf(Error);
    const errors = failure.logs.filter((l) => l.level === "error").map((l) => l.message);
    expect(errors).toEqual([
      expect.stringMatching(
        /^nbtscan-detector run failed: Log Analytics at https:\/\/127\.0\.0\.1:\d+\/v1 answered HTTP 403 \(exclusions watchlist 'nbtscan-exclusions' \(EXCLUSIONS_WATCHLIST\) could not be read from Log Analytics: .*\); check LOG_ANALYTICS_ENDPOINT and LOG_ANALYTICS_WORKSPACE_ID \(detection 'nbtscan\.exe NetBIOS network discovery \(S0590\)', rule [0-9a-f-]{36}\)$/,
      ),
    ]);
    expect(s.delivered()).toEqual([]);

    s.advance(5 * MINUTE);
    const next = await s.run();
    expect(next.summary).toMatchObject({ new: 1, delivered: 1 });
  });
});
