import type { PlaybookClient } from "../delivery/playbookClient";
import type { OutboxRecord, StateStore } from "../state/stateStore";
import type { RunLog } from "./runLog";

/** How a batch of deliveries went. */
export interface DeliveryCounts {
  delivered: number;
  /** Left pending for the next run (408, 429, 5xx, network). */
  pending: number;
  /** Rejected by the playbook (other 4xx): recorded as failed, never retried automatically. */
  failed: number;
}

/** Posts each outbox incident in order and records the outcome; the outbox row is the truth. */
export async function deliverOutbox(
  records: OutboxRecord[],
  playbook: PlaybookClient,
  state: StateStore,
  log: RunLog,
): Promise<DeliveryCounts> {
  const counts: DeliveryCounts = { delivered: 0, pending: 0, failed: 0 };
  for (const record of records) {
    const attempts = record.attempts + 1;
    const result = await playbook.post(record.payload);
    switch (result.outcome) {
      case "delivered":
        await state.markDelivery(record.incidentId, "delivered", attempts);
        counts.delivered += 1;
        break;
      case "retry-later":
        await state.markDelivery(record.incidentId, "pending", attempts, result.error);
        log.warn(
          `incident ${record.incidentId} not delivered (attempt ${attempts}), will retry next run: ${result.error}`,
        );
        counts.pending += 1;
        break;
      case "rejected":
        await state.markDelivery(record.incidentId, "failed", attempts, result.error);
        log.error(
          `PLAYBOOK REJECTED incident ${record.incidentId} (HTTP ${result.status}); it will not be ` +
            `retried. Fix the playbook, then set the outbox row's Status back to 'pending'. ${result.error}`,
        );
        counts.failed += 1;
        break;
    }
  }
  return counts;
}
