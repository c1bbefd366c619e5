import type { QueryPass } from "../query/window";
import { partitionPrefix, type DetectionKey } from "./detectionKey";

// Where each kind of a detection's rows lives in the one state table:
//   <p>lease             one row: which run owns the detection (./lease.ts)
//   <p>watermark         one row per query pass: the end of its last completed ingestion window
//   <p>ledger-YYYYMMDD   one row per seen event, by the event's UTC day (./ledger.ts)
//   <p>outbox            undelivered incidents and the delivery log (./outbox.ts)
//   <p>quarantine        query rows the detection could not process (./quarantine.ts)
// where <p> is "<ruleId>_<workspaceId>_" (./detectionKey.ts). Before state was keyed per
// detection, <p> was empty and the lease and watermark rows were told apart by the rule id in
// their RowKey: the legacy layout, read only to migrate it (./legacyMigration.ts).

/** A row's address. */
export interface RowAddress {
  partition: string;
  row: string;
}

/** The partitions (and the lease's and watermarks' rows) of one detection's state. */
export interface StateLayout {
  lease: RowAddress;
  watermarkPartition: string;
  watermarkRow: (pass: QueryPass) => string;
  /** Every ledger partition starts with this; the day (YYYYMMDD) follows. */
  ledgerPrefix: string;
  outbox: string;
  quarantine: string;
}

function layoutWithPrefix(prefix: string): Omit<StateLayout, "lease" | "watermarkRow"> {
  return {
    watermarkPartition: `${prefix}watermark`,
    ledgerPrefix: `${prefix}ledger-`,
    outbox: `${prefix}outbox`,
    quarantine: `${prefix}quarantine`,
  };
}

/** The layout of a detection's own state. */
export function scopedLayout(key: DetectionKey): StateLayout {
  const prefix = partitionPrefix(key);
  return {
    ...layoutWithPrefix(prefix),
    lease: { partition: `${prefix}lease`, row: "lease" },
    watermarkRow: (pass) => pass,
  };
}

/** The unscoped layout state had before it was keyed per detection (only nbtscan wrote it). */
export function legacyLayout(ruleId: string): StateLayout {
  return {
    ...layoutWithPrefix(""),
    lease: { partition: "lease", row: ruleId },
    // The routine pass kept the row it always had; the catch-up pass's came later.
    watermarkRow: (pass) => (pass === "routine" ? ruleId : `${ruleId}-${pass}`),
  };
}
