import type { TableClient } from "@azure/data-tables";
import type { QuarantinedRow } from "../query/rows";
import type { QueryPass, RoutineCoverage } from "../query/window";
import type { DetectionKey } from "./detectionKey";
import { scopedLayout, type StateLayout } from "./layout";
import { acquireLease, type AcquireOptions, type LeaseGrant } from "./lease";
import { Ledger, ledgerRecordsOf, type LedgerRecord } from "./ledger";
import {
  migrateLegacyState,
  type MigrationOptions,
  type MigrationOutcome,
} from "./legacyMigration";
import { Outbox, type DeliveryMark, type OutboxRecord, type OutboxStatus } from "./outbox";
import { Quarantine, type QuarantineRecord } from "./quarantine";
import { isStatus } from "./tableBatch";
import { Watermarks, type Watermark } from "./watermarks";

export type { DetectionKey } from "./detectionKey";
export { ledgerRecordsOf, type LedgerRecord } from "./ledger";
export type { DeliveryMark, DeliveryStatus, OutboxRecord, OutboxStatus } from "./outbox";
export type { QuarantineRecord } from "./quarantine";
export { WatermarkConflictError, type Watermark } from "./watermarks";

// One detection's durable state in the shared state table: its lease, watermarks, ledger,
// outbox (with the delivery log) and quarantine, each kept by its own module, every partition
// scoped by the detection's key (layout.ts), so no detection's rows are another's.

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

/** Durable state of one detection (a rule run against a workspace) in one Azure Table. */
export class StateStore {
  readonly layout: StateLayout;
  readonly ledger: Ledger;
  readonly outbox: Outbox;
  readonly watermarks: Watermarks;
  readonly quarantine: Quarantine;
  /** Set once this process found the legacy state moved (or its own): not looked for again. */
  private legacySettled = false;

  constructor(
    private readonly table: TableClient,
    readonly key: DetectionKey,
  ) {
    this.layout = scopedLayout(key);
    this.ledger = new Ledger(table, this.layout);
    this.outbox = new Outbox(table, this.layout);
    this.watermarks = new Watermarks(table, this.layout);
    this.quarantine = new Quarantine(table, this.layout);
  }

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
      return await acquireLease(this.table, this.layout.lease, options);
    } catch (error) {
      // The lease is a run's first write: a new deployment's table is created here, on demand,
      // rather than asked for at every start.
      if (!isStatus(error, 404)) throw error;
      await this.ensureTable();
      return acquireLease(this.table, this.layout.lease, options);
    }
  }

  /**
   * Under the detection's lease: moves state written before it was keyed per detection into
   * its partitions, while the detection has no routine watermark of its own (legacyMigration.ts).
   * Until the outcome is "none" or "done", the detection must not run.
   */
  async migrateLegacy(options: MigrationOptions): Promise<MigrationOutcome> {
    if (this.legacySettled) return { status: "none" };
    const own = await this.watermarks.read("routine");
    const outcome =
      own.value !== undefined
        ? { status: "none" as const }
        : await migrateLegacyState(this.table, this.key, options);
    // Once the detection has state of its own, unscoped state can no longer appear for it.
    if (own.value !== undefined || outcome.status === "done") this.legacySettled = true;
    return outcome;
  }

  /** Reads every query pass's watermark in one request (a run needs both). */
  readWatermarks(): Promise<Record<QueryPass, Watermark>> {
    return this.watermarks.readAll();
  }

  /** Reads a query pass's watermark and the ETag that guards its next update. */
  readWatermark(pass: QueryPass = "routine"): Promise<Watermark> {
    return this.watermarks.read(pass);
  }

  /** Moves a pass's watermark forward; see Watermarks.advance. */
  advanceWatermark(
    to: Date,
    previous: Watermark,
    pass: QueryPass = "routine",
    coverage?: RoutineCoverage,
  ): Promise<Watermark> {
    return this.watermarks.advance(to, previous, pass, coverage);
  }

  /** Which of these event keys the ledger already holds (see Ledger.seen). */
  seenEventKeys(events: { eventKey: string; timestamp: string }[]): Promise<Set<string>> {
    return this.ledger.seen(events);
  }

  /**
   * Records incidents and ledger rows. The outbox is written first: a crash between the two
   * leaves incidents whose events are not yet in the ledger, and repairLedger mends that before
   * the next run reads, so no hit is ever both forgotten and undelivered.
   */
  async record(incidents: OutboxRecord[], ledger: LedgerRecord[]): Promise<void> {
    await this.outbox.record(incidents);
    await this.ledger.record(ledger);
  }

  /** Writes the ledger rows of pending incidents again (idempotent): the crash-recovery step. */
  async repairLedger(pending: OutboxRecord[]): Promise<void> {
    await this.ledger.record(pending.flatMap(ledgerRecordsOf));
  }

  /** Pending incidents, a page at a time (see Outbox.pendingPages). */
  pendingPages(pageSize = 20): AsyncIterableIterator<OutboxRecord[]> {
    return this.outbox.pendingPages(pageSize);
  }

  /** Every pending incident, oldest first (for audits and tests; runs read pendingPages). */
  async pendingOutbox(): Promise<OutboxRecord[]> {
    const pending: OutboxRecord[] = [];
    for await (const page of this.pendingPages()) pending.push(...page);
    return pending.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Every incident the outbox knows of: undelivered rows and the delivery log (audits, tests). */
  allOutbox(): Promise<OutboxStatus[]> {
    return this.outbox.all();
  }

  /** Every ledger row of one UTC day (for audits and tests). */
  ledgerOfDay(timestamp: string): Promise<LedgerRecord[]> {
    return this.ledger.ofDay(timestamp);
  }

  /** Records the outcome of one delivery attempt (see markDeliveries). */
  async markDelivery(mark: DeliveryMark, at: Date = new Date()): Promise<void> {
    await this.outbox.markDeliveries([mark], at);
  }

  /** Writes delivery outcomes back to the outbox (see Outbox.markDeliveries). */
  async markDeliveries(marks: readonly DeliveryMark[], at: Date = new Date()): Promise<void> {
    await this.outbox.markDeliveries(marks, at);
  }

  /**
   * Deletes this detection's ledger days older than the policy keeps, and its delivery-log and
   * quarantined rows past their retention. Each is a range read of keys alone over rows that are
   * due, so the cost follows what is deleted; a run stops when `stop()` says so and the next
   * one carries on. Another detection's rows are outside every range.
   */
  async applyRetention(now: Date, policy: RetentionPolicy): Promise<RetentionCounts> {
    const ledger = await this.ledger.deleteDaysBefore(
      new Date(now.getTime() - policy.ledgerMs),
      policy.stop,
    );
    const deliveredCutoff = new Date(now.getTime() - policy.deliveredMs);
    const log = await this.outbox.pruneLog(deliveredCutoff, policy.stop);
    // Quarantined rows are evidence for a human, kept as long as the delivery log.
    const quarantine = await this.quarantine.prune(deliveredCutoff, policy.stop);
    return {
      ledgerRows: ledger.deleted,
      deliveryLogRows: log.deleted,
      quarantineRows: quarantine.deleted,
      complete: ledger.complete && log.complete && quarantine.complete,
    };
  }

  /** Records rows set aside by a run (idempotent: the same row keeps one entry). */
  recordQuarantine(rows: QuarantinedRow[], runId: string, at: Date): Promise<void> {
    return this.quarantine.record(rows, runId, at);
  }

  /** Every quarantined row (for audits and tests). */
  allQuarantine(): Promise<QuarantineRecord[]> {
    return this.quarantine.all();
  }
}
