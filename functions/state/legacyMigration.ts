import {
  odata,
  type TableClient,
  type TableEntity,
  type TableEntityResult,
  type TransactionAction,
} from "@azure/data-tables";
import type { QueryPass } from "../query/window";
import { partitionPrefix, type DetectionKey } from "./detectionKey";
import { legacyLayout, scopedLayout, type StateLayout } from "./layout";
import { acquireLease, LeaseHeldError, readLease, retireLease, RETIRED_MODE } from "./lease";
import { Ledger, ledgerRecordsOf, type LedgerRecord } from "./ledger";
import { LOG_PREFIX, outboxRecord, type OutboxEntity } from "./outbox";
import { isStatus, QUERY_PAGE, submitAll, upsertAll } from "./tableBatch";
import { Watermarks } from "./watermarks";
import { NBTSCAN_RULE_ID } from "../detections/folder";

// Before state was keyed per detection, one deployment ran one rule, nbtscan, and kept its state
// in unscoped partitions (lease, watermark, ledger-YYYYMMDD, outbox, quarantine; layout.ts).
// Its first run after the upgrade moves those rows into the detection's own partitions, under
// the detection's lease and the legacy one, a page at a time within the run's budget: each page
// is upserted into its new partition, then deleted from the old, so a run cut short leaves every
// row in one place or both, and the next run goes on where this one stopped. The watermarks
// move last: until they do, the detection does not run (its state would be incomplete).

/** nbtscan's rule id: the only rule that wrote unscoped state. */
export const LEGACY_RULE_ID = NBTSCAN_RULE_ID;

/** What a migration step needs from the run. */
export interface MigrationOptions {
  /** The run's id: it takes the legacy lease under it. */
  owner: string;
  durationMs: number;
  now: () => Date;
  /** True when the run must stop moving rows; the next run goes on. */
  stop: () => boolean;
  /** Keeps the detection's own lease alive between pages. */
  renew: () => Promise<void>;
}

/** Where a migration stands after a run's step. */
export type MigrationOutcome =
  | { status: "none" }
  | { status: "done"; rows: number }
  | { status: "partial"; rows: number }
  | { status: "waiting"; reason: string };

// What moves, by legacy partition: the ledger days, the outbox with its delivery log, the
// quarantine. A rule id may start with "ledger" too, so only exact "ledger-YYYYMMDD" partitions
// of the range are legacy ones.
const LEGACY_LEDGER = /^ledger-\d{8}$/;
const SOURCES = [
  {
    filter: odata`PartitionKey ge 'ledger-' and PartitionKey lt 'ledger.'`,
    legacy: (pk: string) => LEGACY_LEDGER.test(pk),
  },
  { filter: odata`PartitionKey eq 'outbox'`, legacy: () => true },
  { filter: odata`PartitionKey eq 'quarantine'`, legacy: () => true },
];

/**
 * Moves nbtscan's unscoped state into its detection's partitions (see above); call it under the
 * detection's lease, when the detection has no watermark of its own. "waiting": a run of the
 * previous version still holds the legacy lease.
 */
export async function migrateLegacyState(
  table: TableClient,
  key: DetectionKey,
  options: MigrationOptions,
): Promise<MigrationOutcome> {
  if (key.ruleId !== LEGACY_RULE_ID) return { status: "none" };
  const legacy = legacyLayout(key.ruleId);
  const current = await readLease(table, legacy.lease);
  // Every run of the old layout took this row before writing anything: without it, no state.
  if (!current) return { status: "none" };
  const retired = current.Mode === RETIRED_MODE;
  let release: (() => Promise<void>) | undefined;
  if (!retired) {
    try {
      const grant = await acquireLease(table, legacy.lease, {
        owner: options.owner,
        mode: "migration",
        durationMs: options.durationMs,
        now: options.now,
      });
      release = () => grant.lease.release();
    } catch (error) {
      if (!(error instanceof LeaseHeldError)) throw error;
      return { status: "waiting", reason: error.message };
    }
  }
  const scoped = scopedLayout(key);
  let rows = 0;
  for (const source of SOURCES) {
    const moved = await movePartitions(table, key, scoped, source, options);
    rows += moved.rows;
    if (!moved.complete) {
      await release?.();
      return { status: "partial", rows };
    }
  }
  // Retired before the watermarks move: from then on an old run finds the lease taken, never a
  // missing watermark (which would make it read the whole lookback again into an empty ledger).
  if (!retired) await retireLease(table, legacy.lease, `moved to ${partitionPrefix(key)}*`);
  rows += await moveWatermarks(table, legacy, scoped);
  return { status: "done", rows };
}

type LegacyRow = TableEntityResult<Record<string, unknown>>;

/** Copies then deletes one legacy source's rows, a page at a time, until done or told to stop. */
async function movePartitions(
  table: TableClient,
  key: DetectionKey,
  scoped: StateLayout,
  source: (typeof SOURCES)[number],
  options: MigrationOptions,
): Promise<{ rows: number; complete: boolean }> {
  const prefix = partitionPrefix(key);
  const ledger = new Ledger(table, scoped);
  let rows = 0;
  const pages = table
    .listEntities<Record<string, unknown>>({ queryOptions: { filter: source.filter } })
    .byPage({ maxPageSize: QUERY_PAGE });
  for await (const page of pages) {
    const entities = page.filter((e) => source.legacy(e.partitionKey ?? ""));
    const copies = entities.map((e) => withPartition(e, prefix + (e.partitionKey ?? "")));
    await upsertAll(table, copies);
    // The old run may have died between writing incidents and their ledger rows: write those
    // rows again (repair, as after a crash), since the moved lease no longer says it died.
    await ledger.record(entities.flatMap(pendingLedgerRows));
    await submitAll(
      table,
      entities.map((e): TransactionAction => [
        "delete",
        { partitionKey: e.partitionKey ?? "", rowKey: e.rowKey ?? "" },
      ]),
    );
    rows += entities.length;
    await options.renew();
    if (page.continuationToken && options.stop()) return { rows, complete: false };
  }
  return { rows, complete: true };
}

/** The entity's properties at a new PartitionKey, without what the service sets (ETag, Timestamp). */
function withPartition(entity: LegacyRow, partitionKey: string): TableEntity {
  const { etag: _etag, timestamp: _timestamp, ...properties } = entity;
  void _etag;
  void _timestamp;
  return { ...properties, partitionKey, rowKey: entity.rowKey ?? "" };
}

function pendingLedgerRows(entity: LegacyRow): LedgerRecord[] {
  if (entity.partitionKey !== "outbox" || (entity.rowKey ?? "").startsWith(LOG_PREFIX)) return [];
  if (entity.Status !== "pending") return [];
  return ledgerRecordsOf(outboxRecord(entity as unknown as OutboxEntity));
}

/** Creates the scoped watermarks from the legacy ones, then deletes those; how many moved. */
async function moveWatermarks(
  table: TableClient,
  legacy: StateLayout,
  scoped: StateLayout,
): Promise<number> {
  const from = new Watermarks(table, legacy);
  const to = new Watermarks(table, scoped);
  const found = await from.readAll();
  let moved = 0;
  for (const pass of ["catchup", "routine"] as QueryPass[]) {
    const value = found[pass].value;
    if (value === undefined) continue;
    // Created, never overwritten: a retried step finds its own row there.
    await to.advance(value, { value: undefined, etag: undefined }, pass);
    moved += 1;
  }
  for (const pass of ["catchup", "routine"] as QueryPass[]) {
    if (found[pass].value === undefined) continue;
    try {
      await table.deleteEntity(legacy.watermarkPartition, legacy.watermarkRow(pass));
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }
  return moved;
}
