import { randomUUID } from "node:crypto";
import { TableClient } from "@azure/data-tables";
import type { IncidentRecord } from "../../functions/incidents/payload";
import type { LedgerRecord } from "../../functions/state/ledger";
import type { OutboxRecord } from "../../functions/state/outbox";
import { startAzuriteTable, type AzuriteTable } from "../../sandbox/azurite";

/** One Azurite for a test file, and a fresh table per test whose requests are counted. */
export interface StateTableFixture {
  azurite(): AzuriteTable;
  /** A new table (not yet created), with `requests` counting what it is asked. */
  table(): TableClient;
  /** "METHOD /path" of each request since the last reset. */
  requests: string[];
}

/** Registers beforeAll/afterAll for Azurite; tables come from `table()` inside tests. */
export function useStateTables(): StateTableFixture {
  let azurite: AzuriteTable | undefined;
  const requests: string[] = [];
  beforeAll(async () => {
    azurite = await startAzuriteTable();
  });
  afterAll(() => azurite?.stop());
  return {
    requests,
    azurite() {
      if (!azurite) throw new Error("Azurite runs inside tests");
      return azurite;
    },
    table() {
      if (!azurite) throw new Error("Azurite runs inside tests");
      return TableClient.fromConnectionString(
        azurite.connectionString,
        `s${randomUUID().replace(/-/g, "").slice(0, 12)}`,
        {
          allowInsecureConnection: true,
          additionalPolicies: [
            {
              position: "perCall",
              policy: {
                name: "count",
                sendRequest: (req, next) => (
                  requests.push(`${req.method} ${new URL(req.url).pathname}`),
                  next(req)
                ),
              },
            },
          ],
        },
      );
    },
  };
}

/** A ledger row of event `i` on `day`. */
export function ledgerRow(i: number, day = "2026-11-25"): LedgerRecord {
  return {
    eventKey: `DeviceProcessEvents|host/${i}|${day}T08:00:00.000Z|${i}`,
    timestamp: `${day}T08:00:00.000Z`,
    deviceName: `host/${i}`,
    runId: "run-1",
    disposition: "incident",
    incidentId: "00000000-0000-5000-8000-000000000001",
  };
}

/** A pending outbox row with a stub incident. */
export function outboxRow(id: string, createdAt: string, description = "d"): OutboxRecord {
  return {
    incidentId: id,
    incident: { incidentId: id, description, events: [] } as unknown as IncidentRecord,
    runId: "run-1",
    createdAt,
    status: "pending",
    attempts: 0,
  };
}
