import { createHash } from "node:crypto";
import { odata, type TableClient, type TableEntity } from "@azure/data-tables";
import { mapConcurrent } from "../concurrency";
import type { StateLayout } from "./layout";
import type { OutboxRecord } from "./outbox";
import {
  chunks,
  deleteWhere,
  FORBIDDEN_KEY_CHARS,
  groupBy,
  isStatus,
  QUERY_PAGE,
  TABLE_CONCURRENCY,
  upsertAll,
  type DeleteCount,
} from "./tableBatch";

// The seen-event ledger: one row per event the detection turned into an incident or suppressed,
// in partition <p>ledger-YYYYMMDD by the event's UTC day, RowKey <Timestamp>_<sha256(event key)>
// so one day's keys sort by time.

// "No more than 15 discrete comparisons are permitted within a $filter string" (Query Entities,
// learn.microsoft.com/rest/api/storageservices/querying-tables-and-entities): one for the
// partition, fourteen RowKeys.
const KEYS_PER_FILTER = 14;

/** An event the ledger remembers: turned into an incident, or suppressed by an exclusion. */
export interface LedgerRecord {
  eventKey: string;
  /** The event's Timestamp (ISO); it picks the ledger partition. */
  timestamp: string;
  deviceName: string;
  runId: string;
  disposition: "incident" | "suppressed";
  incidentId?: string;
  exclusion?: string;
}

type LedgerEntity = TableEntity<{
  EventKey: string;
  DeviceName: string;
  EventTimestamp: string;
  RunId: string;
  Disposition: string;
  IncidentId?: string;
  Exclusion?: string;
}>;

function ledgerRowKey(eventKey: string, timestamp: string): string {
  const hash = createHash("sha256").update(eventKey).digest("hex");
  return `${timestamp.replace(FORBIDDEN_KEY_CHARS, "_")}_${hash}`;
}

/** Where a ledger row lives; ordered as the table orders rows. */
interface LedgerKey {
  partition: string;
  row: string;
}

function compareLedgerKeys(a: LedgerKey, b: LedgerKey): number {
  if (a.partition !== b.partition) return a.partition < b.partition ? -1 : 1;
  return a.row < b.row ? -1 : a.row > b.row ? 1 : 0;
}

/** A detection's seen-event ledger. */
export class Ledger {
  constructor(
    private readonly table: TableClient,
    private readonly layout: StateLayout,
  ) {}

  private partition(timestamp: string): string {
    return `${this.layout.ledgerPrefix}${timestamp.slice(0, 10).replace(/-/g, "")}`;
  }

  /**
   * Returns which of these event keys the ledger already holds. The cost follows the keys
   * asked, not the ledger's size. Ledger keys sort by time (day partition, then a RowKey that
   * starts with the timestamp), so many keys first read the one key range they span, across
   * days: a single request when it holds few other rows, as for new hits over an empty or older
   * ledger, and never more pages than the lookups would cost. What that read does not settle,
   * and a handful of keys, are looked up by RowKey, fourteen per request, in parallel.
   */
  async seen(events: { eventKey: string; timestamp: string }[]): Promise<Set<string>> {
    const wanted = new Map<string, string>();
    const keys: LedgerKey[] = [];
    for (const e of events) {
      const key = {
        partition: this.partition(e.timestamp),
        row: ledgerRowKey(e.eventKey, e.timestamp),
      };
      if (wanted.has(key.row)) continue;
      wanted.set(key.row, e.eventKey);
      keys.push(key);
    }
    keys.sort(compareLedgerKeys);
    const seen = new Set<string>();
    const found = (rowKey: string | undefined): void => {
      const eventKey = wanted.get(rowKey ?? "");
      if (eventKey !== undefined) seen.add(eventKey);
    };
    try {
      const unsettled = keys.length > KEYS_PER_FILTER ? await this.seenInRange(keys, found) : keys;
      const lookups = [...groupBy(unsettled, (k) => k.partition)].flatMap(([partition, inDay]) =>
        chunks(inDay, KEYS_PER_FILTER).map((chunk) => ({ partition, chunk })),
      );
      await mapConcurrent(lookups, TABLE_CONCURRENCY, async ({ partition, chunk }) => {
        const rowKeys = chunk.map((k) => odata`RowKey eq ${k.row}`).join(" or ");
        const filter = `${odata`PartitionKey eq ${partition}`} and (${rowKeys})`;
        for await (const entity of this.table.listEntities({
          queryOptions: { filter, select: ["RowKey"] },
        })) {
          found(entity.rowKey);
        }
      });
    } catch (error) {
      // A dry run before the first real run finds no table yet: nothing has been seen.
      if (!isStatus(error, 404)) throw error;
    }
    return seen;
  }

  /**
   * Reads the ledger keys between the first and last of `sorted` (reporting each to `found`),
   * for at most as many pages as lookups of them would cost; returns the keys it did not reach.
   * The range stays inside this detection's ledger: its partitions share the detection's prefix.
   */
  private async seenInRange(
    sorted: LedgerKey[],
    found: (rowKey: string | undefined) => void,
  ): Promise<LedgerKey[]> {
    const first = sorted[0];
    const last = sorted[sorted.length - 1];
    const filter =
      first.partition === last.partition
        ? odata`PartitionKey eq ${first.partition} and RowKey ge ${first.row} and RowKey le ${last.row}`
        : odata`(PartitionKey gt ${first.partition} or (PartitionKey eq ${first.partition} and RowKey ge ${first.row})) and (PartitionKey lt ${last.partition} or (PartitionKey eq ${last.partition} and RowKey le ${last.row}))`;
    const pages = this.table
      .listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } })
      .byPage({ maxPageSize: QUERY_PAGE });
    let budget = Math.ceil(sorted.length / KEYS_PER_FILTER);
    let reached: LedgerKey | undefined;
    for await (const page of pages) {
      for (const entity of page) {
        found(entity.rowKey);
        reached = { partition: entity.partitionKey ?? "", row: entity.rowKey ?? "" };
      }
      if (--budget <= 0 && page.continuationToken) {
        const until = reached;
        return until ? sorted.filter((k) => compareLedgerKeys(k, until) > 0) : sorted;
      }
    }
    return [];
  }

  /** Writes ledger rows (idempotent upserts, in transactions per day). */
  async record(records: LedgerRecord[]): Promise<void> {
    await upsertAll(
      this.table,
      records.map((r) => this.entity(r)),
    );
  }

  /** Every ledger row of one UTC day (for audits and tests). */
  async ofDay(timestamp: string): Promise<LedgerRecord[]> {
    const entities = this.table.listEntities<LedgerEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${this.partition(timestamp)}` },
    });
    const records: LedgerRecord[] = [];
    for await (const e of entities) {
      records.push({
        eventKey: e.EventKey,
        timestamp: e.EventTimestamp,
        deviceName: e.DeviceName,
        runId: e.RunId,
        disposition: e.Disposition === "suppressed" ? "suppressed" : "incident",
        ...(e.IncidentId ? { incidentId: e.IncidentId } : {}),
        ...(e.Exclusion ? { exclusion: e.Exclusion } : {}),
      });
    }
    return records;
  }

  /** Deletes the ledger days before the UTC day of `oldestKept`, until `stop()` says so. */
  async deleteDaysBefore(oldestKept: Date, stop: () => boolean): Promise<DeleteCount> {
    const oldestKeptDay = this.partition(oldestKept.toISOString());
    return deleteWhere(
      this.table,
      odata`PartitionKey ge ${this.layout.ledgerPrefix} and PartitionKey lt ${oldestKeptDay}`,
      stop,
    );
  }

  private entity(r: LedgerRecord): LedgerEntity {
    return {
      partitionKey: this.partition(r.timestamp),
      rowKey: ledgerRowKey(r.eventKey, r.timestamp),
      EventKey: r.eventKey,
      DeviceName: r.deviceName,
      EventTimestamp: r.timestamp,
      RunId: r.runId,
      Disposition: r.disposition,
      ...(r.incidentId ? { IncidentId: r.incidentId } : {}),
      ...(r.exclusion ? { Exclusion: r.exclusion } : {}),
    };
  }
}

/** The ledger rows an outbox incident stands for: one per event it carries. */
export function ledgerRecordsOf(record: OutboxRecord): LedgerRecord[] {
  return record.incident.events.map((event) => ({
    eventKey: event.eventKey,
    timestamp: event.Timestamp,
    deviceName: event.DeviceName,
    runId: record.runId,
    disposition: "incident",
    incidentId: record.incidentId,
  }));
}
