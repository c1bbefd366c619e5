import { createHash } from "node:crypto";
import {
  odata,
  RestError,
  type TableClient,
  type TableEntity,
  type TransactionAction,
} from "@azure/data-tables";
import { mapConcurrent } from "../concurrency";
import type { IncidentRecord } from "../incidents/payload";
import type { QuarantinedRow } from "../query/rows";
import type { QueryPass } from "../query/window";
import { acquireLease, type AcquireOptions, type LeaseGrant } from "./lease";

// One table holds every kind of row, told apart by partition (and, in the outbox, by RowKey):
//   lease                one row per detection: which run owns it (./lease.ts)
//   watermark            one row per detection and query pass: the end of its last completed
//                        ingestion window
//   ledger-YYYYMMDD      one row per seen event, by the event's UTC day; RowKey
//                        <Timestamp>_<sha256(event key)> so one day's keys sort by time
//   outbox               one row per undelivered incident (pending or failed), RowKey its id,
//                        and, after every "~" RowKey, delivery-log rows: "~delivered_<when>_…"
//                        listing the incidents one transaction marked delivered
//   quarantine           one row per query row the detection could not process, with the reason
// A delivered incident leaves the outbox in the same transaction that logs it, so finding the
// pending ones reads only undelivered rows, whatever the history; the log is pruned by age.

const WATERMARK_PARTITION = "watermark";
const OUTBOX_PARTITION = "outbox";
const QUARANTINE_PARTITION = "quarantine";
// A quarantined row's content is kept as evidence in one string property (64 KiB at most).
const QUARANTINE_ROW_CHARS = 30_000;
const LEDGER_PREFIX = "ledger-";
/** Sorts after every incident id (lower-case UUIDs), so "RowKey lt '~'" skips the log. */
const LOG_PREFIX = "~delivered_";
const MAX_TRANSACTION_ACTIONS = 100;
// A transaction's body may not exceed 4 MiB; outbox rows carry whole incidents, so batches are
// cut by size as well as by count, with room left for the multipart framing.
const MAX_TRANSACTION_BYTES = 3 * 1024 * 1024;
// Table Storage caps a string property at 64 KiB (32K UTF-16 code units).
const PAYLOAD_CHUNK_CHARS = 30_000;
/** Requests in flight at once: transactions to different partitions, lookups. */
const TABLE_CONCURRENCY = 8;
// "No more than 15 discrete comparisons are permitted within a $filter string" (Query Entities,
// learn.microsoft.com/rest/api/storageservices/querying-tables-and-entities): one for the
// partition, fourteen RowKeys.
const KEYS_PER_FILTER = 14;
const QUERY_PAGE = 1000;

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

/** How long delivered and seen things are kept. */
export interface RetentionPolicy {
  /** Ledger days that ended more than this long ago are deleted. */
  ledgerMs: number;
  /** Delivery-log rows and quarantined rows older than this are deleted. */
  deliveredMs: number;
  /** Stop deleting when this says so (the run's budget); the rest goes next run. */
  stop: () => boolean;
}

/** How many rows retention deleted, and whether it got through everything due. */
export interface RetentionCounts {
  ledgerRows: number;
  deliveryLogRows: number;
  quarantineRows: number;
  complete: boolean;
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

type DeliveryLogEntity = TableEntity<{ DeliveredAt: string; Incidents: string }>;
/** [incidentId, attempts, runId, createdAt] */
type DeliveryLogItem = [string, number, string, string];

// Characters Table keys forbid; event keys and timestamps come from the data.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is forbidden
const FORBIDDEN_KEY_CHARS = /[\\/#?\u0000-\u001f\u007f-\u009f]/g;

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

function ledgerPartition(timestamp: string): string {
  return `${LEDGER_PREFIX}${timestamp.slice(0, 10).replace(/-/g, "")}`;
}

/** The ledger partition of the UTC day of `instant`. */
function ledgerPartitionOfDay(instant: Date): string {
  return ledgerPartition(instant.toISOString());
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

/** Cuts one partition's actions into transactions within the count and size limits. */
function transactionBatches(actions: TransactionAction[]): TransactionAction[][] {
  const batches: TransactionAction[][] = [];
  let current: TransactionAction[] = [];
  let bytes = 0;
  for (const action of actions) {
    const size = estimatedBytes(action[1]);
    if (
      current.length === MAX_TRANSACTION_ACTIONS ||
      (current.length > 0 && bytes + size > MAX_TRANSACTION_BYTES)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(action);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Groups items by a key in one pass (no re-copying of the groups). */
function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
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

  /** Takes the detection's lease (see ./lease.ts); throws LeaseHeldError if another run has it. */
  async acquireLease(options: AcquireOptions): Promise<LeaseGrant> {
    try {
      return await acquireLease(this.table, this.detectionId, options);
    } catch (error) {
      // The lease is a run's first write: a new deployment's table is created here, on demand,
      // rather than asked for at every start.
      if (!isStatus(error, 404)) throw error;
      await this.ensureTable();
      return acquireLease(this.table, this.detectionId, options);
    }
  }

  // Each query pass keeps its own watermark; the routine one keeps the row it always had.
  private watermarkRow(pass: QueryPass): string {
    return pass === "routine" ? this.detectionId : `${this.detectionId}-${pass}`;
  }

  /** Reads every query pass's watermark in one request (a run needs both). */
  async readWatermarks(): Promise<Record<QueryPass, Watermark>> {
    const found: Record<QueryPass, Watermark> = {
      routine: { value: undefined, etag: undefined },
      catchup: { value: undefined, etag: undefined },
    };
    const passOf = new Map<string, QueryPass>(
      (["routine", "catchup"] as const).map((pass) => [this.watermarkRow(pass), pass]),
    );
    const rows = [...passOf.keys()].map((row) => odata`RowKey eq ${row}`).join(" or ");
    for await (const row of this.table.listEntities<{ Watermark: string }>({
      queryOptions: { filter: `${odata`PartitionKey eq ${WATERMARK_PARTITION}`} and (${rows})` },
    })) {
      const pass = passOf.get(row.rowKey ?? "");
      if (pass) found[pass] = { value: new Date(row.Watermark), etag: row.etag };
    }
    return found;
  }

  /** Reads a query pass's watermark and the ETag that guards its next update. */
  async readWatermark(pass: QueryPass = "routine"): Promise<Watermark> {
    try {
      const row = await this.table.getEntity<{ Watermark: string }>(
        WATERMARK_PARTITION,
        this.watermarkRow(pass),
      );
      return { value: new Date(row.Watermark), etag: row.etag };
    } catch (error) {
      if (isStatus(error, 404)) return { value: undefined, etag: undefined };
      throw error;
    }
  }

  /**
   * Moves the watermark forward and returns it as now stored (for the next sub-window); throws
   * WatermarkConflictError if another run moved it first.
   */
  async advanceWatermark(
    to: Date,
    previous: Watermark,
    pass: QueryPass = "routine",
  ): Promise<Watermark> {
    const entity = {
      partitionKey: WATERMARK_PARTITION,
      rowKey: this.watermarkRow(pass),
      Watermark: to.toISOString(),
    };
    try {
      const response =
        previous.etag === undefined
          ? await this.table.createEntity(entity)
          : await this.table.updateEntity(entity, "Replace", { etag: previous.etag });
      return { value: to, etag: response.etag };
    } catch (error) {
      if (!isStatus(error, 409, 412)) throw error;
      // A retried write whose first attempt landed conflicts with itself: that one is fine.
      const stored = await this.readWatermark(pass);
      if (stored.value?.getTime() !== to.getTime()) throw new WatermarkConflictError();
      return stored;
    }
  }

  /**
   * Returns which of these event keys the ledger already holds. The cost follows the keys
   * asked, not the ledger's size. Ledger keys sort by time (day partition, then a RowKey that
   * starts with the timestamp), so many keys first read the one key range they span, across
   * days: a single request when it holds few other rows, as for new hits over an empty or older
   * ledger, and never more pages than the lookups would cost. What that read does not settle,
   * and a handful of keys, are looked up by RowKey, fourteen per request, in parallel.
   */
  async seenEventKeys(events: { eventKey: string; timestamp: string }[]): Promise<Set<string>> {
    const wanted = new Map<string, string>();
    const keys: LedgerKey[] = [];
    for (const e of events) {
      const key = {
        partition: ledgerPartition(e.timestamp),
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

  /**
   * Records incidents and ledger rows. The outbox is written first: a crash between the two
   * leaves incidents whose events are not yet in the ledger, and repairLedger mends that before
   * the next run reads, so no hit is ever both forgotten and undelivered.
   */
  async record(incidents: OutboxRecord[], ledger: LedgerRecord[]): Promise<void> {
    await this.upsertAll(incidents.map(outboxEntity));
    await this.upsertAll(ledger.map(ledgerEntity));
  }

  /** Writes the ledger rows of pending incidents again (idempotent): the crash-recovery step. */
  async repairLedger(pending: OutboxRecord[]): Promise<void> {
    await this.upsertAll(pending.flatMap(ledgerRecordsOf).map(ledgerEntity));
  }

  /**
   * Pending incidents, a page at a time (the order is the outbox's, by incident id). A row is
   * up to ~1 MB, so pages are small.
   */
  async *pendingPages(pageSize = 20): AsyncIterableIterator<OutboxRecord[]> {
    const pages = this.table
      .listEntities<OutboxEntity>({
        queryOptions: {
          filter: odata`PartitionKey eq ${OUTBOX_PARTITION} and RowKey lt '~' and Status eq 'pending'`,
        },
      })
      .byPage({ maxPageSize: pageSize });
    for await (const page of pages) {
      if (page.length > 0) yield page.map(outboxRecord);
    }
  }

  /** Every pending incident, oldest first (for audits and tests; runs read pendingPages). */
  async pendingOutbox(): Promise<OutboxRecord[]> {
    const pending: OutboxRecord[] = [];
    for await (const page of this.pendingPages()) pending.push(...page);
    return pending.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Every incident the outbox knows of: undelivered rows and the delivery log (audits, tests). */
  async allOutbox(): Promise<OutboxStatus[]> {
    const statuses: OutboxStatus[] = [];
    for await (const entity of this.table.listEntities<OutboxEntity & DeliveryLogEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${OUTBOX_PARTITION}` },
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

  /** Records the outcome of one delivery attempt (see markDeliveries). */
  async markDelivery(mark: DeliveryMark, at: Date = new Date()): Promise<void> {
    await this.markDeliveries([mark], at);
  }

  /**
   * Writes delivery outcomes as transactions in the outbox partition: a delivered incident's row
   * is deleted and a log row listing it is inserted in the same transaction; a retry or a
   * rejection updates the row's status and attempts.
   */
  async markDeliveries(marks: readonly DeliveryMark[], at: Date = new Date()): Promise<void> {
    const batches = chunks(marks, MAX_TRANSACTION_ACTIONS - 1);
    await mapConcurrent(batches, TABLE_CONCURRENCY, async (batch, index) => {
      const actions: TransactionAction[] = [];
      const delivered: DeliveryLogItem[] = [];
      for (const mark of batch) {
        const keys = { partitionKey: OUTBOX_PARTITION, rowKey: mark.incidentId };
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
          partitionKey: OUTBOX_PARTITION,
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

  /**
   * Deletes ledger days older than the policy keeps and delivery-log rows past their retention.
   * Both are range reads of keys alone over rows that are due, so the cost follows what is
   * deleted; a run stops when `stop()` says so and the next one carries on.
   */
  async applyRetention(now: Date, policy: RetentionPolicy): Promise<RetentionCounts> {
    const oldestKeptDay = ledgerPartitionOfDay(new Date(now.getTime() - policy.ledgerMs));
    const deliveredCutoff = new Date(now.getTime() - policy.deliveredMs).toISOString();
    const ledger = await this.deleteWhere(
      odata`PartitionKey ge ${LEDGER_PREFIX} and PartitionKey lt ${oldestKeptDay}`,
      policy.stop,
    );
    const log = await this.deleteWhere(
      odata`PartitionKey eq ${OUTBOX_PARTITION} and RowKey ge ${LOG_PREFIX} and RowKey lt ${LOG_PREFIX + deliveredCutoff}`,
      policy.stop,
    );
    // Quarantined rows are evidence for a human, kept as long as the delivery log; the
    // partition only holds rows no run could process, so filtering on a property stays cheap.
    const quarantine = await this.deleteWhere(
      odata`PartitionKey eq ${QUARANTINE_PARTITION} and RecordedAt lt ${deliveredCutoff}`,
      policy.stop,
    );
    return {
      ledgerRows: ledger.deleted,
      deliveryLogRows: log.deleted,
      quarantineRows: quarantine.deleted,
      complete: ledger.complete && log.complete && quarantine.complete,
    };
  }

  private async deleteWhere(
    filter: string,
    stop: () => boolean,
  ): Promise<{ deleted: number; complete: boolean }> {
    let deleted = 0;
    const pages = this.table
      .listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } })
      .byPage({ maxPageSize: QUERY_PAGE });
    for await (const page of pages) {
      const actions = page.map((e): TransactionAction => [
        "delete",
        { partitionKey: e.partitionKey ?? "", rowKey: e.rowKey ?? "" },
      ]);
      await this.submitAll(actions);
      deleted += actions.length;
      if (page.continuationToken && stop()) return { deleted, complete: false };
    }
    return { deleted, complete: true };
  }

  /** Records rows set aside by a run (idempotent: the same row keeps one entry). */
  async recordQuarantine(rows: QuarantinedRow[], runId: string, at: Date): Promise<void> {
    await this.upsertAll(rows.map((row) => quarantineEntity(row, runId, at)));
  }

  /** Every quarantined row (for audits and tests). */
  async allQuarantine(): Promise<QuarantineRecord[]> {
    const records: QuarantineRecord[] = [];
    for await (const e of this.table.listEntities<QuarantineEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${QUARANTINE_PARTITION}` },
    })) {
      records.push({
        reason: e.Reason,
        row: e.Row,
        rowTruncated: e.RowTruncated,
        runId: e.RunId,
        recordedAt: e.RecordedAt,
      });
    }
    return records;
  }

  private async upsertAll(entities: TableEntity[]): Promise<void> {
    await this.submitAll(entities.map((e): TransactionAction => ["upsert", e, "Replace"]));
  }

  /** Submits actions as transactions per partition, different partitions in parallel. */
  private async submitAll(actions: TransactionAction[]): Promise<void> {
    const batches = [...groupBy(actions, (a) => a[1].partitionKey).values()].flatMap(
      transactionBatches,
    );
    await mapConcurrent(batches, TABLE_CONCURRENCY, (batch) => this.table.submitTransaction(batch));
  }
}

function outboxEntity(record: OutboxRecord): OutboxEntity {
  const json = JSON.stringify(record.incident);
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

/** A quarantined row as stored: the reason, and the row as JSON (cut to one property). */
export interface QuarantineRecord {
  reason: string;
  row: string;
  rowTruncated: boolean;
  runId: string;
  recordedAt: string;
}

type QuarantineEntity = TableEntity<{
  Reason: string;
  Row: string;
  RowTruncated: boolean;
  RunId: string;
  RecordedAt: string;
}>;

function quarantineEntity(q: QuarantinedRow, runId: string, at: Date): QuarantineEntity {
  const json = JSON.stringify(q.row);
  const row = utf16Chunks(json, QUARANTINE_ROW_CHARS)[0] ?? "";
  return {
    partitionKey: QUARANTINE_PARTITION,
    // The same row read again (a window re-read after a crash) keeps its one entry.
    rowKey: createHash("sha256").update(json).digest("hex"),
    Reason: q.reason.slice(0, 1000),
    Row: row,
    RowTruncated: row.length < json.length,
    RunId: runId,
    RecordedAt: at.toISOString(),
  };
}

function ledgerEntity(r: LedgerRecord): LedgerEntity {
  return {
    partitionKey: ledgerPartition(r.timestamp),
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

function outboxRecord(e: OutboxEntity): OutboxRecord {
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
