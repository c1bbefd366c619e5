import {
  RestError,
  type TableClient,
  type TableEntity,
  type TransactionAction,
} from "@azure/data-tables";
import { mapConcurrent } from "../concurrency";

// What every kind of state row shares: how writes are cut into transactions, how rows are
// deleted by range, and the key and size rules of Table Storage.

export const MAX_TRANSACTION_ACTIONS = 100;
// A transaction's body may not exceed 4 MiB; outbox rows carry whole incidents, so batches are
// cut by size as well as by count, with room left for the multipart framing.
const MAX_TRANSACTION_BYTES = 3 * 1024 * 1024;
/** Requests in flight at once: transactions to different partitions, lookups. */
export const TABLE_CONCURRENCY = 8;
/** Rows asked for per page of a range read. */
export const QUERY_PAGE = 1000;

// Characters Table keys forbid; event keys and timestamps come from the data.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is forbidden
export const FORBIDDEN_KEY_CHARS = /[\\/#?\u0000-\u001f\u007f-\u009f]/g;

/** Whether an error is a Table Storage response with one of these HTTP statuses. */
export function isStatus(error: unknown, ...codes: number[]): boolean {
  return error instanceof RestError && codes.includes(error.statusCode ?? 0);
}

/** Cuts text into parts of at most `size` UTF-16 units, never splitting a surrogate pair. */
export function utf16Chunks(text: string, size: number): string[] {
  // Table Storage measures strings in UTF-16 code units.
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
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** Cuts items into consecutive slices of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Submits actions as transactions per partition, different partitions in parallel. */
export async function submitAll(table: TableClient, actions: TransactionAction[]): Promise<void> {
  const batches = [...groupBy(actions, (a) => a[1].partitionKey).values()].flatMap(
    transactionBatches,
  );
  await mapConcurrent(batches, TABLE_CONCURRENCY, (batch) => table.submitTransaction(batch));
}

/** Upserts (replaces) entities, in transactions per partition. */
export async function upsertAll(table: TableClient, entities: TableEntity[]): Promise<void> {
  await submitAll(
    table,
    entities.map((e): TransactionAction => ["upsert", e, "Replace"]),
  );
}

/** How many rows a range delete removed, and whether it reached the end of the range. */
export interface DeleteCount {
  deleted: number;
  complete: boolean;
}

/**
 * Deletes the rows a filter selects, a page of keys at a time; stops between pages when
 * `stop()` says so (the next run carries on, as the filter still selects the rest).
 */
export async function deleteWhere(
  table: TableClient,
  filter: string,
  stop: () => boolean,
): Promise<DeleteCount> {
  let deleted = 0;
  const pages = table
    .listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } })
    .byPage({ maxPageSize: QUERY_PAGE });
  for await (const page of pages) {
    const actions = page.map((e): TransactionAction => [
      "delete",
      { partitionKey: e.partitionKey ?? "", rowKey: e.rowKey ?? "" },
    ]);
    await submitAll(table, actions);
    deleted += actions.length;
    if (page.continuationToken && stop()) return { deleted, complete: false };
  }
  return { deleted, complete: true };
}
