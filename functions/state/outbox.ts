import {
  odata,
  type TableClient,
  type TableEntity,
  type TransactionAction,
} from "@azure/data-tables";
import { mapConcurrent } from "../concurrency";
import type { IncidentRecord } from "../incidents/payload";
import type { StateLayout } from "./layout";
import {
  chunks,
  deleteWhere,
  isStatus,
  MAX_TRANSACTION_ACTIONS,
  TABLE_CONCURRENCY,
  upsertAll,
  utf16Chunks,
  type DeleteCount,
} from "./tableBatch";

// The outbox partition (<p>outbox) holds one row per undelivered incident (pending or failed),
// RowKey its id, and, after every "~" RowKey, delivery-log rows "~delivered_<when>_…" listing
// the incidents one transaction marked delivered. A delivered incident leaves the outbox in the
// same transaction that logs it, so finding the pending ones reads only undelivered rows,
// whatever the history; the log is pruned by age.

/** Sorts after every incident id (lower-case UUIDs), so "RowKey lt '~'" skips the log. */
export const LOG_PREFIX = "~delivered_";
// Table Storage caps a string property at 64 KiB (32K UTF-16 code units).
const PAYLOAD_CHUNK_CHARS = 30_000;

export type DeliveryStatus = "pending" | "delivered" | "failed";

/** An incident waiting in the outbox (pending), or parked there for a human (failed). */
export interface OutboxRecord {
  incidentId: string;
  /** The incident without its alert rows, which are built again when it is posted. */
  incident: IncidentRecord;
  runId: string;
  createdAt: string;
  status: DeliveryStatus;
  attempts: number;
  lastError?: string;
}

/** Where an incident stands, without its payload (delivered incidents keep none). */
export interface OutboxStatus {
  incidentId: string;
  runId: string;
  createdAt: string;
  status: DeliveryStatus;
  attempts: number;
  lastError?: string;
  deliveredAt?: string;
}

/** The outcome of one delivery attempt, as written back to the outbox. */
export type DeliveryMark =
  | { incidentId: string; status: "delivered"; attempts: number; runId: string; createdAt: string }
  | { incidentId: string; status: "pending" | "failed"; attempts: number; lastError: string };

export type OutboxEntity = TableEntity<
  {
    RunId: string;
    CreatedAt: string;
    Status: DeliveryStatus;
    Attempts: number;
    LastError?: string;
    PayloadParts: number;
  } & Record<`Payload${number}`, string>
>;

type DeliveryLogEntity = TableEntity<{ DeliveredAt: string; Incidents: string }>;
/** [incidentId, attempts, runId, createdAt] */
type DeliveryLogItem = [string, number, string, string];

/** A detection's outbox and delivery log. */
export class Outbox {
  constructor(
    private readonly table: TableClient,
    private readonly layout: StateLayout,
  ) {}

  /** Writes incidents as pending (or as they stand), idempotently. */
  async record(incidents: OutboxRecord[]): Promise<void> {
    await upsertAll(
      this.table,
      incidents.map((r) => this.entity(r)),
    );
  }

  /**
   * Pending incidents, a page at a time (the order is the outbox's, by incident id). A row is
   * up to ~1 MB, so pages are small.
   */
  async *pendingPages(pageSize = 20): AsyncIterableIterator<OutboxRecord[]> {
    const pages = this.table
      .listEntities<OutboxEntity>({
        queryOptions: {
          filter: odata`PartitionKey eq ${this.layout.outbox} and RowKey lt '~' and Status eq 'pending'`,
        },
      })
      .byPage({ maxPageSize: pageSize });
    for await (const page of pages) {
      if (page.length > 0) yield page.map(outboxRecord);
    }
  }

  /** Every incident the outbox knows of: undelivered rows and the delivery log (audits, tests). */
  async all(): Promise<OutboxStatus[]> {
    const statuses: OutboxStatus[] = [];
    for await (const entity of this.table.listEntities<OutboxEntity & DeliveryLogEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${this.layout.outbox}` },
    })) {
      if (!entity.rowKey.startsWith(LOG_PREFIX)) {
        statuses.push(outboxStatus(entity));
        continue;
      }
      for (const [incidentId, attempts, runId, createdAt] of JSON.parse(
        entity.Incidents,
      ) as DeliveryLogItem[]) {
        statuses.push({
          incidentId,
          attempts,
          runId,
          createdAt,
          status: "delivered",
          deliveredAt: entity.DeliveredAt,
        });
      }
    }
    return statuses;
  }

  /**
   * Writes delivery outcomes as transactions in the outbox partition: a delivered incident's row
   * is deleted and a log row listing it is inserted in the same transaction; a retry or a
   * rejection updates the row's status and attempts.
   */
  async markDeliveries(marks: readonly DeliveryMark[], at: Date): Promise<void> {
    const batches = chunks(marks, MAX_TRANSACTION_ACTIONS - 1);
    await mapConcurrent(batches, TABLE_CONCURRENCY, async (batch, index) => {
      const actions: TransactionAction[] = [];
      const delivered: DeliveryLogItem[] = [];
      for (const mark of batch) {
        const keys = { partitionKey: this.layout.outbox, rowKey: mark.incidentId };
        if (mark.status === "delivered") {
          actions.push(["delete", keys]);
          delivered.push([mark.incidentId, mark.attempts, mark.runId, mark.createdAt]);
        } else {
          const update = { ...keys, Status: mark.status, Attempts: mark.attempts };
          actions.push(["update", { ...update, LastError: mark.lastError }, "Merge"]);
        }
      }
      if (delivered.length > 0) {
        const log: DeliveryLogEntity = {
          partitionKey: this.layout.outbox,
          rowKey: `${LOG_PREFIX}${at.toISOString()}_${delivered[0][0]}_${index}`,
          DeliveredAt: at.toISOString(),
          Incidents: JSON.stringify(delivered),
        };
        actions.push(["upsert", log, "Replace"]);
      }
      try {
        await this.table.submitTransaction(actions);
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
        await this.markOneByOne(actions);
      }
    });
  }

  // A transaction fails whole when one row is gone: a retried transaction whose first attempt
  // landed, or a row someone removed. Marking a missing row is moot, so the rest go one by one.
  private async markOneByOne(actions: TransactionAction[]): Promise<void> {
    for (const [kind, entity, mode] of actions) {
      try {
        if (kind === "delete") await this.table.deleteEntity(entity.partitionKey, entity.rowKey);
        else if (kind === "update") await this.table.updateEntity(entity, mode ?? "Merge");
        else if (kind === "upsert") await this.table.upsertEntity(entity, mode ?? "Replace");
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    }
  }

  /** Deletes delivery-log rows written before `cutoff`, until `stop()` says so. */
  async pruneLog(cutoff: Date, stop: () => boolean): Promise<DeleteCount> {
    const before = LOG_PREFIX + cutoff.toISOString();
    return deleteWhere(
      this.table,
      odata`PartitionKey eq ${this.layout.outbox} and RowKey ge ${LOG_PREFIX} and RowKey lt ${before}`,
      stop,
    );
  }

  private entity(record: OutboxRecord): OutboxEntity {
    const json = JSON.stringify(record.incident);
    const parts = utf16Chunks(json, PAYLOAD_CHUNK_CHARS);
    const entity: OutboxEntity = {
      partitionKey: this.layout.outbox,
      rowKey: record.incidentId,
      RunId: record.runId,
      CreatedAt: record.createdAt,
      Status: record.status,
      Attempts: record.attempts,
      PayloadParts: parts.length,
    };
    parts.forEach((part, i) => (entity[`Payload${i}`] = part));
    return entity;
  }
}

function outboxStatus(e: OutboxEntity): OutboxStatus {
  return {
    incidentId: e.rowKey,
    runId: e.RunId,
    createdAt: e.CreatedAt,
    status: e.Status,
    attempts: e.Attempts,
    ...(e.LastError ? { lastError: e.LastError } : {}),
  };
}

/** An outbox row as the record it stores (its payload parts joined back). */
export function outboxRecord(e: OutboxEntity): OutboxRecord {
  let json = "";
  for (let i = 0; i < e.PayloadParts; i++) json += e[`Payload${i}`];
  const { incidentId, runId, createdAt, status, attempts, lastError } = outboxStatus(e);
  return {
    incidentId,
    incident: JSON.parse(json) as IncidentRecord,
    runId,
    createdAt,
    status,
    attempts,
    ...(lastError ? { lastError } : {}),
  };
}
