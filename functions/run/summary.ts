import { performance } from "node:perf_hooks";
import type { IngestionWindow, SuppressedHit } from "../model";
import { addScanned, type DataScanned, type QueryOutcome } from "../query/detectionQuery";
import type { TablesLastIngested } from "../query/tableLiveness";
import type { QueryPlan } from "../query/window";
import { NO_DELIVERIES, type DeliveryCounts } from "./deliverOutbox";

/** What the catch-up pass of a run did (the rest of the summary counts both passes). */
export interface CatchUpSummary {
  window: IngestionWindow;
  timespan: QueryPlan["timespan"];
  watermark: Date | undefined;
  rows: number;
  requests: number;
  scanned: DataScanned | undefined;
  newHits: number;
  incidents: number;
}

function isoOrNull(date: Date | undefined): string | null {
  return date?.toISOString() ?? null;
}

/** What one run did, logged as one structured line and printed by the command line. */
export class RunSummary {
  /** The routine pass's ingestion window. */
  window: IngestionWindow | undefined;
  /** The routine pass's TimeGenerated span (the API's timespan). */
  timespan: QueryPlan["timespan"] | undefined;
  /** What Log Analytics read for every query of the run, per its statistics. */
  scanned: DataScanned | undefined;
  /** Set when the run made a catch-up pass (see query/window.ts). */
  catchUp: CatchUpSummary | undefined;
  watermark: Date | undefined;
  rows = 0;
  requests = 0;
  splits = 0;
  duplicates = 0;
  newHits = 0;
  suppressed = 0;
  suppressedBy: Record<string, number> = {};
  /** Rows the detection could not process: recorded in the state table and skipped. */
  quarantined = 0;
  incidents = 0;
  delivered = 0;
  pending = 0;
  failed = 0;
  /** Incidents recorded but not posted this run (budget or breaker): still pending. */
  deferred = 0;
  retried: DeliveryCounts = { ...NO_DELIVERIES };
  /** Ingestion-time sub-windows this run completed (more than one for a large backlog). */
  subWindows = 0;
  /** The window's end was not reached (MAX_HITS_PER_RUN or the budget): the next run goes on. */
  backlog = false;
  /** Why the run did nothing: another run holds the lease. */
  skipped: string | undefined;
  /** The previous run ended without releasing its lease, so this one repaired the ledger. */
  repaired = false;
  breakerOpened = false;
  retention = { ledgerRows: 0, deliveryLogRows: 0, quarantineRows: 0 };
  /** Newest ingestion time of each Defender table (null: nothing within DATA_SILENCE_WARNING). */
  tablesLastIngested: TablesLastIngested = {};
  durationMs = 0;
  // Monotonic, and apart from the run's clock: that one is injected (tests) and drives windows.
  private readonly startedTick = performance.now();

  constructor(
    readonly runId: string,
    readonly startedAt: Date,
    readonly dryRun: boolean,
    /** The detection this run ran: every summary names its rule. */
    readonly detection: { id: string; name: string } = { id: "", name: "" },
  ) {}

  /** Counts what one (sub-window's) query returned. */
  recordQuery(outcome: QueryOutcome): void {
    this.rows += outcome.events.length;
    this.requests += outcome.requests;
    this.splits += outcome.splits;
    this.scanned = addScanned(this.scanned, outcome.scanned);
    if (this.catchUp) {
      this.catchUp.rows += outcome.events.length;
      this.catchUp.requests += outcome.requests;
      this.catchUp.scanned = addScanned(this.catchUp.scanned, outcome.scanned);
    }
  }

  /** Counts suppressed hits, per exclusion, for the audit trail. */
  recordSuppressed(suppressed: SuppressedHit[]): void {
    this.suppressed += suppressed.length;
    for (const { exclusion } of suppressed) {
      this.suppressedBy[exclusion] = (this.suppressedBy[exclusion] ?? 0) + 1;
    }
  }

  /** Counts how this run's own incidents were delivered. */
  recordDelivery(counts: DeliveryCounts): void {
    this.delivered += counts.delivered;
    this.pending += counts.pending;
    this.failed += counts.failed;
    this.deferred += counts.deferred;
  }

  /** Stamps the duration; returns this for chaining. */
  finish(): this {
    this.durationMs = Math.round(performance.now() - this.startedTick);
    return this;
  }

  /** The flat record logged as JSON. */
  toJSON(): Record<string, unknown> {
    return {
      detectionId: this.detection.id,
      detection: this.detection.name,
      runId: this.runId,
      dryRun: this.dryRun,
      ...(this.skipped ? { skipped: this.skipped } : {}),
      windowStart: this.window?.start.toISOString() ?? null,
      windowEnd: this.window?.end.toISOString() ?? null,
      timespanStart: isoOrNull(this.timespan?.startTime),
      watermark: this.watermark?.toISOString() ?? null,
      rows: this.rows,
      requests: this.requests,
      splits: this.splits,
      scannedRows: this.scanned?.rows ?? null,
      scannedExtents: this.scanned?.extents ?? null,
      catchUp: this.catchUp
        ? {
            windowStart: this.catchUp.window.start.toISOString(),
            windowEnd: this.catchUp.window.end.toISOString(),
            timespanStart: this.catchUp.timespan.startTime.toISOString(),
            watermark: isoOrNull(this.catchUp.watermark),
            rows: this.catchUp.rows,
            requests: this.catchUp.requests,
            scannedRows: this.catchUp.scanned?.rows ?? null,
            scannedExtents: this.catchUp.scanned?.extents ?? null,
            new: this.catchUp.newHits,
            incidents: this.catchUp.incidents,
          }
        : null,
      new: this.newHits,
      duplicates: this.duplicates,
      suppressed: this.suppressed,
      suppressedBy: this.suppressedBy,
      quarantined: this.quarantined,
      incidents: this.incidents,
      delivered: this.delivered,
      pending: this.pending,
      failed: this.failed,
      deferred: this.deferred,
      subWindows: this.subWindows,
      backlog: this.backlog,
      repaired: this.repaired,
      breakerOpened: this.breakerOpened,
      retriedDelivered: this.retried.delivered,
      retriedPending: this.retried.pending,
      retriedFailed: this.retried.failed,
      retriedDeferred: this.retried.deferred,
      retentionLedgerRows: this.retention.ledgerRows,
      retentionDeliveryLogRows: this.retention.deliveryLogRows,
      retentionQuarantineRows: this.retention.quarantineRows,
      tablesLastIngested: this.tablesLastIngested,
      durationMs: this.durationMs,
    };
  }
}
