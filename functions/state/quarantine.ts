import { createHash } from "node:crypto";
import { odata, type TableClient, type TableEntity } from "@azure/data-tables";
import type { QuarantinedRow } from "../query/rows";
import type { StateLayout } from "./layout";
import { deleteWhere, upsertAll, utf16Chunks, type DeleteCount } from "./tableBatch";

// One row per query row the detection could not process, with the reason, in <p>quarantine.

// A quarantined row's content is kept as evidence in one string property (64 KiB at most).
const QUARANTINE_ROW_CHARS = 30_000;

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

/** A detection's quarantined rows. */
export class Quarantine {
  constructor(
    private readonly table: TableClient,
    private readonly layout: StateLayout,
  ) {}

  /** Records rows set aside by a run (idempotent: the same row keeps one entry). */
  async record(rows: QuarantinedRow[], runId: string, at: Date): Promise<void> {
    await upsertAll(
      this.table,
      rows.map((row) => this.entity(row, runId, at)),
    );
  }

  /** Every quarantined row (for audits and tests). */
  async all(): Promise<QuarantineRecord[]> {
    const records: QuarantineRecord[] = [];
    for await (const e of this.table.listEntities<QuarantineEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${this.layout.quarantine}` },
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

  /**
   * Deletes rows recorded before `cutoff`, until `stop()` says so. The partition only holds rows
   * no run could process, so filtering on a property stays cheap.
   */
  async prune(cutoff: Date, stop: () => boolean): Promise<DeleteCount> {
    return deleteWhere(
      this.table,
      odata`PartitionKey eq ${this.layout.quarantine} and RecordedAt lt ${cutoff.toISOString()}`,
      stop,
    );
  }

  private entity(q: QuarantinedRow, runId: string, at: Date): QuarantineEntity {
    const json = JSON.stringify(q.row);
    const row = utf16Chunks(json, QUARANTINE_ROW_CHARS)[0] ?? "";
    return {
      partitionKey: this.layout.quarantine,
      // The same row read again (a window re-read after a crash) keeps its one entry.
      rowKey: createHash("sha256").update(json).digest("hex"),
      Reason: q.reason.slice(0, 1000),
      Row: row,
      RowTruncated: row.length < json.length,
      RunId: runId,
      RecordedAt: at.toISOString(),
    };
  }
}
