import { mapConcurrent } from "../concurrency";
import type { PlaybookClient } from "../delivery/playbookClient";
import { toPayload } from "../incidents/payload";
import type { DeliveryMark, OutboxRecord, StateStore } from "../state/stateStore";
import type { RunBudget } from "./budget";
import type { RunLog } from "./runLog";

/** How a batch of deliveries went. */
export interface DeliveryCounts {
  delivered: number;
  /** Left pending for the next run (408, 429, 5xx, network). */
  pending: number;
  /** Rejected by the playbook (other 4xx): recorded as failed, never retried automatically. */
  failed: number;
  /** Not attempted: the budget was nearly spent or the circuit breaker open. Still pending. */
  deferred: number;
}

export const NO_DELIVERIES: DeliveryCounts = { delivered: 0, pending: 0, failed: 0, deferred: 0 };

/** Adds two sets of counts. */
export function addCounts(a: DeliveryCounts, b: DeliveryCounts): DeliveryCounts {
  return {
    delivered: a.delivered + b.delivered,
    pending: a.pending + b.pending,
    failed: a.failed + b.failed,
    deferred: a.deferred + b.deferred,
  };
}

/** Consecutive failed posts after which a run stops posting. */
export const BREAKER_THRESHOLD = 5;

/**
 * Stops a run from hammering a playbook that keeps failing: after BREAKER_THRESHOLD failures in
 * a row it opens, and stays open for the rest of the run; the outbox keeps what was not sent.
 */
export class CircuitBreaker {
  private failuresInARow = 0;
  open = false;

  /** Counts one post's outcome. */
  record(succeeded: boolean): void {
    this.failuresInARow = succeeded ? 0 : this.failuresInARow + 1;
    if (this.failuresInARow >= BREAKER_THRESHOLD) this.open = true;
  }
}

/** What delivery needs from the run. */
export interface Delivery {
  playbook: PlaybookClient;
  state: StateStore;
  log: RunLog;
  budget: RunBudget;
  breaker: CircuitBreaker;
  concurrency: number;
  now: () => Date;
}

/**
 * Posts incidents, `concurrency` at a time, and writes their outcomes back in transactions; the
 * outbox row is the truth. No post starts once less than `reserveMs` of the budget is left or the
 * breaker is open: those incidents stay pending, untouched, for the next run.
 */
export async function deliverOutbox(
  records: readonly OutboxRecord[],
  d: Delivery,
  reserveMs: number,
): Promise<DeliveryCounts> {
  const counts: DeliveryCounts = { ...NO_DELIVERIES };
  const marks: DeliveryMark[] = [];
  await mapConcurrent(records, d.concurrency, async (record) => {
    if (d.breaker.open || d.budget.nearlySpent(reserveMs)) {
      counts.deferred += 1;
      return;
    }
    const mark = await deliverOne(record, d, reserveMs);
    d.breaker.record(mark.status === "delivered");
    counts[mark.status] += 1;
    marks.push(mark);
  });
  if (d.breaker.open && counts.deferred > 0) {
    d.log.warn(
      `playbook failed ${BREAKER_THRESHOLD} times in a row: no more posts this run; ` +
        `${counts.deferred} incident(s) stay pending for the next run`,
    );
  }
  await d.state.markDeliveries(marks, d.now());
  return counts;
}

async function deliverOne(
  record: OutboxRecord,
  d: Delivery,
  reserveMs: number,
): Promise<DeliveryMark> {
  const attempts = record.attempts + 1;
  const { incidentId } = record;
  const remainingMs = d.budget.remainingMs() - reserveMs;
  // The run's deadline for this post and its retries; cleared when the post ends, so no timer
  // outlives the run (in the function host it would fire in a later invocation's time).
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), Math.max(1, remainingMs));
  const result = await d.playbook
    .post(toPayload(record.incident), { timeoutMs: remainingMs, abortSignal: deadline.signal })
    .finally(() => clearTimeout(timer));
  switch (result.outcome) {
    case "delivered":
      return {
        incidentId,
        status: "delivered",
        attempts,
        runId: record.runId,
        createdAt: record.createdAt,
      };
    case "retry-later":
      d.log.warn(
        `incident ${incidentId} not delivered (attempt ${attempts}), will retry next run: ${result.error}`,
      );
      return { incidentId, status: "pending", attempts, lastError: result.error };
    case "rejected":
      d.log.error(
        `PLAYBOOK REJECTED incident ${incidentId} (HTTP ${result.status}); it will not be ` +
          `retried. Fix the playbook, then set the outbox row's Status back to 'pending'. ${result.error}`,
      );
      return { incidentId, status: "failed", attempts, lastError: result.error };
  }
}
