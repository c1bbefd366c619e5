import { createHash } from "node:crypto";
import {
  odata,
  RestError,
  type TableClient,
  type TableEntity,
  type TransactionAction,
} from "@azure/data-tables";
import type { IncidentPayload } from "../incidents/payload";

// One table holds three kinds of rows, told apart by partition:
//   watermark            one row per detection: the end of the last completed ingestion window
//   ledger-YYYYMMDD      one row per seen event, partitioned by the event's UTC day
//   outbox               one row per incident: its payload and delivery status

const WATERMARK_PARTITION = "watermark";
const OUTBOX_PARTITION = "outbox";
const MAX_TRANSACTION_ACTIONS = 100;
// A transaction's body may not exceed 4 MiB; outbox rows carry whole payloads, so batches are
// cut by size as well as by count, with room left for the multipart framing.
const MAX_TRANSACTION_BYTES = 3 * 1024 * 1024;
// Table Storage caps a string property at 64 KiB (32K UTF-16 code units).
const PAYLOAD_CHUNK_CHARS = 30_000;

/** Another run advanced the watermark first; this run must not overwrite it. */
export class WatermarkConflictError extends Error {
  constructor() {
    super("another run advanced the watermark concurrently");
    this.name = "WatermarkConflictError";
  }
}

/** The watermark as read, with the ETag that a later update must match. */
export interface Watermark {
  value: Date | undefined;
  etag: string | undefined;
}

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

export type DeliveryStatus = "pending" | "delivered" | "failed";

/** An incident waiting in, or done with, the outbox. */
export interface OutboxRecord {
  incidentId: string;
  payload: IncidentPayload;
  runId: string;
  createdAt: string;
  status: DeliveryStatus;
  attempts: number;
  lastError?: string;
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

type OutboxEntity = TableEntity<
  {
    RunId: string;
    CreatedAt: string;
    Status: DeliveryStatus;
    Attempts: number;
    LastError?: string;
    PayloadParts: number;
  } & Record<`Payload${number}`, string>
>;

function rowKeyFor(eventKey: string): string {
  // Event keys hold device names and other characters Table keys forbid (/ \ # ?).
  return createHash("sha256").update(eventKey).digest("hex");
}

function ledgerPartition(timestamp: string): string {
  return `ledger-${timestamp.slice(0, 10).replace(/-/g, "")}`;
}

// Table Storage measures strings in UTF-16 code units; a cut must not split a surrogate pair.
function utf16Chunks(text: string, size: number): string[] {
  const parts: string[] = [];
  for (let start = 0; start < text.length;) {
    let end = Math.min(start + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    parts.push(text.slice(start, end));
    start = end;
  }
  return parts;
}

// Strings travel as UTF-8 JSON; counting UTF-16 units twice over-estimates safely.
function estimatedBytes(entity: TableEntity): number {
  return JSON.stringify(entity).length * 2;
}

/** Groups one partition's entities into transactions within the count and size limits. */
function transactionBatches(entities: TableEntity[]): TableEntity[][] {
  const batches: TableEntity[][] = [];
  let current: TableEntity[] = [];
  let bytes = 0;
  for (const entity of entities) {
    const size = estimatedBytes(entity);
    if (
      current.length === MAX_TRANSACTION_ACTIONS ||
      (current.length > 0 && bytes + size > MAX_TRANSACTION_BYTES)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entity);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function isStatus(error: unknown, ...codes: number[]): boolean {
  return error instanceof RestError && codes.includes(error.statusCode ?? 0);
}

/** Durable state of the detection in one Azure Table. */
export class StateStore {
  constructor(
    private readonly table: TableClient,
    private readonly detectionId: string,
  ) {}

  /** Creates the table if it does not exist yet (idempotent). */
  async ensureTable(): Promise<void> {
    try {
      await this.table.createTable();
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
  }

  /** Reads the watermark and the ETag that guards its next update. */
  async readWatermark(): Promise<Watermark> {
    try {
      const row = await this.table.getEntity<{ Watermark: string }>(
        WATERMARK_PARTITION,
        this.detectionId,
      );
      return { value: new Date(row.Watermark), etag: row.etag };
    } catch (error) {
      if (isStatus(error, 404)) return { value: undefined, etag: undefined };
      throw error;
    }
  }

  /** Moves the watermark forward; throws WatermarkConflictError if another run moved it first. */
  async advanceWatermark(to: Date, previous: Watermark): Promise<void> {
    const entity = {
      partitionKey: WATERMARK_PARTITION,
      rowKey: this.detectionId,
      Watermark: to.toISOString(),
    };
    try {
      if (previous.etag === undefined) await this.table.createEntity(entity);
      else await this.table.updateEntity(entity, "Replace", { etag: previous.etag });
    } catch (error) {
      if (isStatus(error, 409, 412)) throw new WatermarkConflictError();
      throw error;
    }
  }

  /** Returns which of these event keys the ledger already holds, one query per UTC day. */
  async seenEventKeys(events: { eventKey: string; timestamp: string }[]): Promise<Set<string>> {
    const byPartition = new Map<string, Map<string, string>>();
    for (const e of events) {
      const partition = ledgerPartition(e.timestamp);
      const rows = byPartition.get(partition) ?? new Map<string, string>();
      rows.set(rowKeyFor(e.eventKey), e.eventKey);
      byPartition.set(partition, rows);
    }
    const seen = new Set<string>();
    try {
      for (const [partition, rows] of byPartition) {
        const entities = this.table.listEntities<LedgerEntity>({
          queryOptions: { filter: odata`PartitionKey eq ${partition}`, select: ["RowKey"] },
        });
        for await (const entity of entities) {
          const key = rows.get(entity.rowKey ?? "");
          if (key !== undefined) seen.add(key);
        }
      }
    } catch (error) {
      // A dry run before the first real run finds no table yet: nothing has been seen.
      if (!isStatus(error, 404)) throw error;
    }
    return seen;
  }

  /**
   * Records a run's incidents and ledger rows. The outbox is written first: a crash between the
   * two leaves incidents whose events are not yet in the ledger, and repairLedger mends that
   * before they are delivered, so no hit is ever both forgotten and undelivered.
   */
  async record(incidents: OutboxRecord[], ledger: LedgerRecord[]): Promise<void> {
    await this.upsertAll(incidents.map(outboxEntity));
    await this.upsertAll(ledger.map(ledgerEntity));
  }

  /** Writes the ledger rows of pending incidents again (idempotent): the crash-recovery step. */
  async repairLedger(pending: OutboxRecord[]): Promise<void> {
    await this.upsertAll(pending.flatMap(ledgerRecordsOf).map(ledgerEntity));
  }

  /** Incidents not yet delivered, oldest first. */
  async pendingOutbox(): Promise<OutboxRecord[]> {
    const pending = await this.listOutbox(
      odata`PartitionKey eq ${OUTBOX_PARTITION} and Status eq 'pending'`,
    );
    return pending.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Every outbox row, any status (for audits and tests). */
  async allOutbox(): Promise<OutboxRecord[]> {
    return this.listOutbox(odata`PartitionKey eq ${OUTBOX_PARTITION}`);
  }

  private async listOutbox(filter: string): Promise<OutboxRecord[]> {
    const records: OutboxRecord[] = [];
    for await (const entity of this.table.listEntities<OutboxEntity>({
      queryOptions: { filter },
    })) {
      records.push(outboxRecord(entity));
    }
    return records;
  }

  /** Every ledger row of one UTC day (for audits and tests). */
  async ledgerOfDay(timestamp: string): Promise<LedgerRecord[]> {
    const entities = this.table.listEntities<LedgerEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${ledgerPartition(timestamp)}` },
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

  /** Records the outcome of one delivery attempt. */
  async markDelivery(
    incidentId: string,
    status: DeliveryStatus,
    attempts: number,
    lastError?: string,
  ): Promise<void> {
    await this.table.updateEntity(
      {
        partitionKey: OUTBOX_PARTITION,
        rowKey: incidentId,
        Status: status,
        Attempts: attempts,
        LastError: lastError ?? "",
      },
      "Merge",
    );
  }

  private async upsertAll(entities: TableEntity[]): Promise<void> {
    const byPartition = new Map<string, TableEntity[]>();
    for (const e of entities) {
      byPartition.set(e.partitionKey, [...(byPartition.get(e.partitionKey) ?? []), e]);
    }
    for (const group of byPartition.values()) {
      for (const batch of transactionBatches(group)) {
        const actions: TransactionAction[] = batch.map((e) => ["upsert", e, "Replace"]);
        await this.table.submitTransaction(actions);
      }
    }
  }
}

function outboxEntity(record: OutboxRecord): OutboxEntity {
  const json = JSON.stringify(record.payload);
  const parts = utf16Chunks(json, PAYLOAD_CHUNK_CHARS);
  const entity: OutboxEntity = {
    partitionKey: OUTBOX_PARTITION,
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

function ledgerEntity(r: LedgerRecord): LedgerEntity {
  return {
    partitionKey: ledgerPartition(r.timestamp),
    rowKey: rowKeyFor(r.eventKey),
    EventKey: r.eventKey,
    DeviceName: r.deviceName,
    EventTimestamp: r.timestamp,
    RunId: r.runId,
    Disposition: r.disposition,
    ...(r.incidentId ? { IncidentId: r.incidentId } : {}),
    ...(r.exclusion ? { Exclusion: r.exclusion } : {}),
  };
}

function outboxRecord(e: OutboxEntity): OutboxRecord {
  let json = "";
  for (let i = 0; i < e.PayloadParts; i++) json += e[`Payload${i}`];
  return {
    incidentId: e.rowKey,
    payload: JSON.parse(json) as IncidentPayload,
    runId: e.RunId,
    createdAt: e.CreatedAt,
    status: e.Status,
    attempts: e.Attempts,
    ...(e.LastError ? { lastError: e.LastError } : {}),
  };
}

/** The ledger rows an outbox incident stands for: one per event it carries. */
export function ledgerRecordsOf(incident: OutboxRecord): LedgerRecord[] {
  return incident.payload.events.map((event) => ({
    eventKey: event.eventKey,
    timestamp: event.Timestamp,
    deviceName: event.DeviceName,
    runId: incident.runId,
    disposition: "incident",
    incidentId: incident.incidentId,
  }));
}
