import { LOCAL_STANDIN_IDENTITY, LocalStandinCredential } from "../../functions/azure/credentials";
import { ConfigError } from "../../functions/config/config";
import type { DetectionEvent } from "../../functions/model";
import { makeEvent, makeFileEvent, KNOWN_SHA1 } from "../support/events";
import {
  useSandboxes,
  MINUTE,
  WORKSPACE_ID,
  type LogLine,
  type Sandbox,
  type SandboxOptions,
} from "./harness";

const START = new Date("2026-11-25T12:00:00.000Z");
const DAY = 24 * 60 * MINUTE;

/** The instant `ms` before START (after it, for a negative `ms`). */
const ago = (ms: number): string => new Date(START.getTime() - ms).toISOString();

/** The time columns of an event generated `generatedAgo` and ingested `ingestedAgo` before START. */
function times(generatedAgo: number, ingestedAgo: number): Partial<DetectionEvent> {
  return {
    TimeGenerated: ago(generatedAgo),
    Timestamp: ago(generatedAgo),
    IngestionTime: ago(ingestedAgo),
  };
}

/** A process event generated `generatedAgo` and ingested `ingestedAgo` before START. */
function at(
  generatedAgo: number,
  ingestedAgo: number,
  overrides: Partial<DetectionEvent> = {},
): DetectionEvent {
  return makeEvent({ ...times(generatedAgo, ingestedAgo), ...overrides });
}

const hostA = { DeviceName: "ws-a.contoso.local", DeviceId: "a".repeat(40) };
const hostB = { DeviceName: "ws-b.contoso.local", DeviceId: "b".repeat(40) };
const hostC = { DeviceName: "srv-c.contoso.local", DeviceId: "c".repeat(40) };

function sampleEvents(): DetectionEvent[] {
  return [
    at(50 * MINUTE, 45 * MINUTE, hostA),
    makeFileEvent({ ...hostA, ...times(40 * MINUTE, 38 * MINUTE) }),
    at(30 * MINUTE, 29 * MINUTE, { ...hostB, FileName: "svc32.exe", SHA1: KNOWN_SHA1 }),
    // Late: generated three days ago, ingested only now.
    at(3 * DAY, 10 * MINUTE, hostC),
  ];
}

function eventKeysOf(sandbox: Sandbox): string[] {
  return sandbox.delivered().flatMap((i) => i.events.map((e) => e.eventKey));
}

const sandboxes = useSandboxes(START);
const sandbox = (options?: SandboxOptions): Promise<Sandbox> => sandboxes.create(options);

describe("the timer handler against Azurite and the local stand-ins", () => {
  it("delivers one incident per device on the first run, each valid against the contract", async () => {
    const s = await sandbox({ events: sampleEvents() });
    const { summary } = await s.run();

    expect(summary).toMatchObject({
      rows: 4,
      new: 4,
      duplicates: 0,
      incidents: 3,
      delivered: 3,
      failed: 0,
      pending: 0,
    });
    const incidents = s.delivered();
    expect(incidents.map((i) => i.entities.hosts[0].hostName).sort()).toEqual(
      [hostA, hostB, hostC].map((h) => h.DeviceName).sort(),
    );
    const renamed = incidents.find((i) => i.entities.hosts[0].hostName === hostB.DeviceName);
    expect(renamed?.events[0]).toMatchObject({ matchedBy: "hash", renamedBinary: true });
    expect(renamed?.severity).toBe("High");
    expect(incidents.every((i) => i.workspaceId === WORKSPACE_ID)).toBe(true);
    // The first run looked back the whole lookback, up to the settle margin.
    expect(summary.windowStart).toBe(ago(7 * DAY));
    expect(summary.windowEnd).toBe(ago(2 * MINUTE));
  });

  it("sends nothing new on the second run", async () => {
    const s = await sandbox({ events: sampleEvents() });
    await s.run();
    s.advance(5 * MINUTE);
    const { summary } = await s.run();

    expect(summary).toMatchObject({ rows: 0, new: 0, incidents: 0, delivered: 0 });
    expect(s.playbook.received).toHaveLength(3);
    expect(s.la.requests.at(-1)?.windowStart).toBe(ago(2 * MINUTE));
  });

  it("leaves an event generated days before it arrives to the catch-up pass, which raises it exactly once", async () => {
    const s = await sandbox({ events: sampleEvents() });
    const first = await s.run();
    // The first routine pass read the whole lookback: no catch-up pass yet.
    expect(first.summary.catchUp).toBeNull();
    // Generated five days before it reached the workspace, a minute after START: after the first
    // window closed, and far older than what the routine pass reads before its window.
    const late = at(5 * DAY, -MINUTE, hostA);
    s.la.addEvents([late]);
    s.advance(5 * MINUTE);
    const second = await s.run();
    expect(second.summary).toMatchObject({ rows: 0, new: 0, incidents: 0, catchUp: null });
    // Its timespan started a day (MAX_INGESTION_DELAY) before its window, not seven, so it read
    // today's rows only.
    expect(second.summary).toMatchObject({
      timespanStart: ago(2 * MINUTE + DAY),
      scannedRows: 3,
      scannedExtents: 1,
    });

    // An hour (CATCHUP_SCHEDULE) after the first window closed, the run adds a catch-up pass.
    s.advance(55 * MINUTE);
    const third = await s.run();
    expect(third.summary).toMatchObject({ new: 1, incidents: 1, delivered: 1 });
    expect(third.summary.catchUp).toMatchObject({
      windowStart: ago(2 * MINUTE),
      windowEnd: ago(-58 * MINUTE),
      timespanStart: ago(-60 * MINUTE + 7 * DAY),
      rows: 1,
      // Only what was generated before the routine pass's timespans began (a day before their
      // windows): the rows generated since, and ingested in this window, the routine pass read.
      scannedRows: 2,
      scannedExtents: 2,
      new: 1,
      incidents: 1,
    });
    // Another hour on, the next catch-up starts where that one ended and finds nothing new.
    s.advance(60 * MINUTE);
    const fourth = await s.run();
    expect(fourth.summary.catchUp).toMatchObject({ windowStart: ago(-58 * MINUTE), new: 0 });

    const keys = eventKeysOf(s);
    expect(keys.filter((k) => k.endsWith(`|${late.ReportId}`))).toHaveLength(1);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("reports what Log Analytics scanned, from its query statistics", async () => {
    const s = await sandbox({ events: sampleEvents() });
    const { summary } = await s.run();
    // The first run reads the whole lookback: all four stored rows, on two UTC days.
    expect(summary).toMatchObject({ scannedRows: 4, scannedExtents: 2 });
    expect(s.la.requests.filter((r) => !r.liveness)[0].prefer).toMatch(/include-statistics=true/);
  });

  it("re-reading a window after a crash before the watermark moved counts duplicates, sends nothing", async () => {
    const s = await sandbox({ events: sampleEvents() });
    await s.run();
    // As if the run had died after recording but before advancing the watermark.
    await s.table.deleteEntity(
      s.state.layout.watermarkPartition,
      s.state.layout.watermarkRow("routine"),
    );
    const { summary } = await s.run();

    expect(summary).toMatchObject({ rows: 4, new: 0, duplicates: 4, incidents: 0, delivered: 0 });
    expect(s.playbook.received).toHaveLength(3);
  });

  it("a playbook that fails and then recovers gets every incident exactly once", async () => {
    const s = await sandbox({ events: sampleEvents() });
    s.playbook.respondWith(503, 2);
    s.playbook.respondWith(429, 1, { "Retry-After": "3600" });
    const first = await s.run();
    expect(first.summary).toMatchObject({ incidents: 3, delivered: 0, pending: 3 });
    expect(
      first.logs.filter((l) => l.level === "warning" && /will retry next run/.test(l.message)),
    ).toHaveLength(3);
    expect(await s.state.pendingOutbox()).toHaveLength(3);

    s.advance(5 * MINUTE);
    const second = await s.run();
    expect(second.summary).toMatchObject({ retriedDelivered: 3, incidents: 0, delivered: 0 });
    s.advance(5 * MINUTE);
    await s.run();

    const ids = s.delivered().map((i) => i.incidentId);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    // Each retry carries, byte for byte, what the first attempt did: the alert rows are built
    // again from the outbox's copy, which keeps the incident without them.
    const bodies = new Map<string, Set<string>>();
    for (const { rawBody } of s.playbook.received) {
      const { incidentId } = JSON.parse(rawBody) as { incidentId: string };
      bodies.set(incidentId, (bodies.get(incidentId) ?? new Set()).add(rawBody));
    }
    expect([...bodies.values()].map((sent) => sent.size)).toEqual([1, 1, 1]);
    expect(s.playbook.received).toHaveLength(6);
    expect(await s.state.pendingOutbox()).toEqual([]);
    expect((await s.state.allOutbox()).map((o) => [o.status, o.attempts])).toEqual([
      ["delivered", 2],
      ["delivered", 2],
      ["delivered", 2],
    ]);
  });

  it("records an incident the playbook rejects as failed, loudly, and does not retry it", async () => {
    const s = await sandbox({ events: [at(30 * MINUTE, 29 * MINUTE, hostA)] });
    s.playbook.respondWith(400, 1);
    const first = await s.run();
    s.advance(5 * MINUTE);
    await s.run();

    expect(first.summary).toMatchObject({ incidents: 1, failed: 1, delivered: 0 });
    expect(first.logs.some((l) => l.level === "error" && /PLAYBOOK REJECTED/.test(l.message))).toBe(
      true,
    );
    expect(s.playbook.received).toHaveLength(1);
    const [row] = await s.state.allOutbox();
    expect(row).toMatchObject({ status: "failed", attempts: 1 });
    expect(row.lastError).toMatch(/HTTP 400/);
    expect(row.lastError).not.toMatch(/sig=|\?/);
  });

  it.each([
    [400, "InvalidStream", "Column 'Foo' is not in the stream's declaration"],
    [413, "ContentLengthLimitExceeded", "The request is larger than 1 MB"],
  ])(
    "parks an incident whose rows the Logs Ingestion API refuses for good (%i) with its error, in one line",
    async (status, code, message) => {
      const s = await sandbox({ events: [at(30 * MINUTE, 29 * MINUTE, hostA)] });
      // The ingest playbook's answer to a permanent refusal (infra/modules/playbook.bicep).
      s.playbook.respondWith(status, 1, undefined, {
        incidentId: "whatever",
        ingestionStatus: status,
        ingestionError: { code, message },
        error: "The Logs Ingestion API refused the alert rows; posting them again cannot succeed.",
      });
      const first = await s.run();
      s.advance(5 * MINUTE);
      const second = await s.run();

      expect(first.summary).toMatchObject({ incidents: 1, failed: 1, delivered: 0 });
      const errors = first.logs.filter((l) => l.level === "error");
      expect(errors).toHaveLength(1);
      expect(errors[0].message).toContain(message);
      expect(second.summary).toMatchObject({ failed: 0, delivered: 0 });
      expect(s.playbook.received).toHaveLength(1);
      const [row] = await s.state.allOutbox();
      expect(row).toMatchObject({ status: "failed", attempts: 1 });
      expect(row.lastError).toContain(`HTTP ${status}`);
      expect(row.lastError).toContain(code);
      expect(row.lastError).toContain(message);
    },
  );

  it("parks incidents whose token the trigger refuses as a configuration error, posted once", async () => {
    // The function runs as an identity the playbook's authorization policy does not name.
    const s = await sandbox({
      events: [at(30 * MINUTE, 29 * MINUTE, hostA), at(30 * MINUTE, 29 * MINUTE, hostB)],
      credential: new LocalStandinCredential({
        ...LOCAL_STANDIN_IDENTITY,
        clientId: "11111111-1111-4111-8111-111111111111",
      }),
    });
    const first = await s.run();
    s.advance(5 * MINUTE);
    const second = await s.run();

    expect(first.summary).toMatchObject({ incidents: 2, failed: 2, delivered: 0 });
    const errors = first.logs.filter((l) => l.level === "error");
    expect(errors).toHaveLength(2);
    for (const line of errors) {
      expect(line.message).toMatch(/PLAYBOOK REJECTED .*HTTP 401.*configuration error/);
    }
    expect(second.summary).toMatchObject({ failed: 0, delivered: 0 });
    expect(s.playbook.received.map((p) => p.status)).toEqual([401, 401]);
    expect((await s.state.allOutbox()).map((row) => row.status)).toEqual(["failed", "failed"]);
  });

  it("splits a partial result until every piece is complete", async () => {
    const events = Array.from({ length: 7 }, (_, i) =>
      at((60 - i) * MINUTE, (50 - i * 5) * MINUTE, hostA),
    );
    const s = await sandbox({ events, maxRowsPerResponse: 2, env: { INCIDENT_GROUPING: "event" } });
    const { summary } = await s.run();

    expect(summary).toMatchObject({ rows: 7, new: 7, incidents: 7, delivered: 7 });
    expect(summary.splits).toBeGreaterThan(0);
    expect(s.la.requests.filter((r) => r.partial).length).toBe(summary.splits);
    expect(new Set(eventKeysOf(s)).size).toBe(7);
  });

  it("after a crash between outbox and ledger, delivers the recorded incident and adds no second one", async () => {
    const events = sampleEvents();
    // Incidents as a run records them, taken from another deployment whose playbook was down...
    const donor = await sandbox({ events });
    donor.playbook.respondWith(503, 3);
    await donor.run();
    const recorded = await donor.state.pendingOutbox();
    // ...and left here as a crashed run would: outbox rows written, ledger and watermark not,
    // and its lease never released.
    const s = await sandbox({ events });
    await s.state.ensureTable();
    await s.state.record(
      recorded.map((r) => ({ ...r, status: "pending", attempts: 0 })),
      [],
    );
    await s.table.createEntity({
      partitionKey: s.state.layout.lease.partition,
      rowKey: s.state.layout.lease.row,
      Owner: "crashed-run",
      Mode: "routine",
      ExpiresAt: ago(MINUTE),
      Released: false,
    });

    const { summary } = await s.run();
    expect(summary).toMatchObject({
      retriedDelivered: 3,
      rows: 4,
      duplicates: 4,
      new: 0,
      incidents: 0,
    });
    expect(
      s
        .delivered()
        .map((i) => i.incidentId)
        .sort(),
    ).toEqual(recorded.map((r) => r.incidentId).sort());
  });

  it("suppresses hits an exclusion covers, records them with its name, and counts them", async () => {
    const exclusions = JSON.stringify({
      exclusions: [
        {
          name: "inventory-on-srv-c",
          expires: "2027-01-31",
          reason: "verified inventory job",
          devices: [hostC.DeviceName],
          condition: { column: "FileName", equals: "nbtscan.exe" },
        },
      ],
    });
    const s = await sandbox({ events: sampleEvents(), env: { EXCLUSIONS: exclusions } });
    const { summary } = await s.run();

    expect(summary).toMatchObject({
      new: 3,
      suppressed: 1,
      suppressedBy: { "inventory-on-srv-c": 1 },
      incidents: 2,
    });
    expect(s.delivered().flatMap((i) => i.entities.hosts.map((h) => h.hostName))).not.toContain(
      hostC.DeviceName,
    );
    const ledger = await s.state.ledgerOfDay(ago(3 * DAY));
    expect(ledger).toEqual([
      expect.objectContaining({ disposition: "suppressed", exclusion: "inventory-on-srv-c" }),
    ]);
  });

  it("fails the invocation with a message naming each bad setting", async () => {
    const s = await sandbox({ env: { LOG_ANALYTICS_WORKSPACE_ID: undefined, LOOKBACK: "a week" } });
    const failure = (await s.run().catch((e: unknown) => e)) as ConfigError & { logs: LogLine[] };

    expect(failure).toBeInstanceOf(ConfigError);
    expect(failure.problems).toEqual([
      expect.stringMatching(/^LOG_ANALYTICS_WORKSPACE_ID is not set/),
      expect.stringMatching(/^LOOKBACK is 'a week'; expected an ISO 8601 duration/),
    ]);
    expect(failure.logs.some((l) => l.level === "error" && /LOOKBACK/.test(l.message))).toBe(true);
    expect(s.la.requests).toEqual([]);
  });

  it("needs no Azure credential against loopback stand-ins and a connection string", async () => {
    const s = await sandbox({ events: sampleEvents() });
    const { summary } = await s.run();

    expect(summary).toMatchObject({ delivered: 3 });
    expect(s.la.requests.every((r) => r.authorization)).toBe(true);
  });
});
