import { performance } from "node:perf_hooks";
import type { IngestionWindow, SuppressedHit } from "../model";
import type { QueryOutcome } from "../query/detectionQuery";
import type { DeliveryCounts } from "./deliverOutbox";

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
  retried: DeliveryCounts = { delivered: 0, pending: 0, failed: 0 };
  durationMs = 0;
  // Monotonic, and apart from the run's clock: that one is injected (tests) and drives windows.
  private readonly startedTick = performance.now();

  constructor(
    readonly runId: string,
    readonly startedAt: Date,
    readonly dryRun: boolean,
  ) {}

  /** Counts what the query returned. */
  recordQuery(outcome: QueryOutcome): void {
    this.rows = outcome.events.length;
    this.requests = outcome.requests;
    this.splits = outcome.splits;
  }

  /** Counts suppressed hits, per exclusion, for the audit trail. */
  recordSuppressed(suppressed: SuppressedHit[]): void {
    this.suppressed = suppressed.length;
    for (const { exclusion } of suppressed) {
      this.suppressedBy[exclusion] = (this.suppressedBy[exclusion] ?? 0) + 1;
    }
  }

  /** Counts how this run's own incidents were delivered. */
  recordDelivery(counts: DeliveryCounts): void {
    this.delivered = counts.delivered;
    this.pending = counts.pending;
    this.failed = counts.failed;
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
      retriedDelivered: this.retried.delivered,
      retriedPending: this.retried.pending,
      retriedFailed: this.retried.failed,
      durationMs: this.durationMs,
    };
  }
}
