import type { TableClient, TableEntity } from "@azure/data-tables";
import { partitionPrefix, type DetectionKey } from "../../functions/state/detectionKey";

/**
 * Rewrites a detection's state into the layout state had before it was keyed per detection:
 * the same rows with the same properties (the old code wrote exactly these), in the unscoped
 * partitions, the lease and watermark rows keyed by the rule id, and no routine coverage (the
 * old code recorded none). What a deployment of the previous version leaves in its table.
 */
export async function toLegacyLayout(table: TableClient, key: DetectionKey): Promise<number> {
  const prefix = partitionPrefix(key);
  let moved = 0;
  for await (const entity of table.listEntities<Record<string, unknown>>()) {
    const partition = entity.partitionKey ?? "";
    if (!partition.startsWith(prefix)) continue;
    const { etag: _etag, timestamp: _timestamp, Coverage: _coverage, ...properties } = entity;
    void [_etag, _timestamp, _coverage];
    const legacyPartition = partition.slice(prefix.length);
    let rowKey = entity.rowKey ?? "";
    if (legacyPartition === "lease") rowKey = key.ruleId;
    if (legacyPartition === "watermark") {
      rowKey = rowKey === "routine" ? key.ruleId : `${key.ruleId}-${rowKey}`;
    }
    const legacy: TableEntity = { ...properties, partitionKey: legacyPartition, rowKey };
    await table.createEntity(legacy);
    await table.deleteEntity(partition, entity.rowKey ?? "");
    moved += 1;
  }
  return moved;
}

/** Every row of the table, as "partition/row", sorted. */
export async function allRows(table: TableClient): Promise<string[]> {
  const rows: string[] = [];
  for await (const e of table.listEntities()) rows.push(`${e.partitionKey}/${e.rowKey}`);
  return rows.sort();
}
