import { performance } from "node:perf_hooks";
import type { IngestionWindow, SuppressedHit } from "../model";
import type { QueryOutcome } from "../query/detectionQuery";
import { NO_DELIVERIES, type DeliveryCounts } from "./deliverOutbox";

/** What one run did, logged as one structured line and printed by the command line. */
export class RunSummary {
  window: IngestionWindow | undefined;
  watermark: Date | undefined;
  rows = 0;
  requests = 0;
  splits = 0;
  duplicates = 0;
  newHits = 0;
  suppressed = 0;
  suppressedBy: Record<string, number> = {};
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
  retention = { ledgerRows: 0, deliveryLogRows: 0 };
  durationMs = 0;
  // Monotonic, and apart from the run's clock: that one is injected (tests) and drives windows.
  private readonly startedTick = performance.now();

  constructor(
    readonly runId: string,
    readonly startedAt: Date,
    readonly dryRun: boolean,
  ) {}

  /** Counts what one (sub-window's) query returned. */
  recordQuery(outcome: QueryOutcome): void {
    this.rows += outcome.events.length;
    this.requests += outcome.requests;
    this.splits += outcome.splits;
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
      runId: this.runId,
      dryRun: this.dryRun,
      ...(this.skipped ? { skipped: this.skipped } : {}),
      windowStart: this.window?.start.toISOString() ?? null,
      windowEnd: this.window?.end.toISOString() ?? null,
      watermark: this.watermark?.toISOString() ?? null,
      rows: this.rows,
      requests: this.requests,
      splits: this.splits,
      new: this.newHits,
      duplicates: this.duplicates,
      suppressed: this.suppressed,
      suppressedBy: this.suppressedBy,
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
      durationMs: this.durationMs,
    };
  }
}
