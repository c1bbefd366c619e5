import type { Grouping } from "../config/config";
import type { EnrichedHit } from "../model";
import { fitsOnePayload, hitBytesBound } from "./budget";

/** Upper bound on events per incident, so an incident stays readable. */
export const MAX_EVENTS_PER_INCIDENT = 50;

function groupKey(hit: EnrichedHit, grouping: Grouping): string {
  switch (grouping) {
    case "device":
      return (hit.event.DeviceId || hit.event.DeviceName).toLowerCase();
    case "run":
      return "run";
    case "event":
      return hit.key;
  }
}

function chronological(a: EnrichedHit, b: EnrichedHit): number {
  return a.event.Timestamp.localeCompare(b.event.Timestamp) || a.key.localeCompare(b.key);
}

/**
 * Cuts a group, oldest first, into incidents of at most MAX_EVENTS_PER_INCIDENT hits whose
 * payload is certain to fit the storage budget (budget.ts). Deterministic: the same hits always
 * give the same parts, so each part's incident id always stands for the same content.
 */
function split(group: readonly EnrichedHit[]): EnrichedHit[][] {
  const parts: EnrichedHit[][] = [];
  let current: EnrichedHit[] = [];
  let bytes = 0;
  for (const hit of group) {
    const size = hitBytesBound(hit);
    const full = current.length === MAX_EVENTS_PER_INCIDENT || !fitsOnePayload(bytes + size);
    if (current.length > 0 && full) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    current.push(hit);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

/** Groups a run's new hits into incidents: per device, per run or per event, oldest first. */
export function groupHits(hits: readonly EnrichedHit[], grouping: Grouping): EnrichedHit[][] {
  const groups = new Map<string, EnrichedHit[]>();
  for (const hit of [...hits].sort(chronological)) {
    const key = groupKey(hit, grouping);
    const group = groups.get(key);
    if (group) group.push(hit);
    else groups.set(key, [hit]);
  }
  return [...groups.values()].flatMap(split);
}
