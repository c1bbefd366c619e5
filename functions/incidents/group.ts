import type { Grouping } from "../config/config";
import type { EnrichedHit } from "../model";

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

// Oldest first, at most MAX_EVENTS_PER_INCIDENT hits per incident.
function split(group: readonly EnrichedHit[]): EnrichedHit[][] {
  const parts: EnrichedHit[][] = [];
  for (let i = 0; i < group.length; i += MAX_EVENTS_PER_INCIDENT) {
    parts.push(group.slice(i, i + MAX_EVENTS_PER_INCIDENT));
  }
  return parts;
}

/** Groups a run's new hits into incidents: per device, per run or per event, oldest first. */
export function groupHits(hits: readonly EnrichedHit[], grouping: Grouping): EnrichedHit[][] {
  const groups = new Map<string, EnrichedHit[]>();
  for (const hit of [...hits].sort(chronological)) {
    const key = groupKey(hit, grouping);
    // Appended in place: copying the group for every hit made a large group quadratic.
    const group = groups.get(key);
    if (group) group.push(hit);
    else groups.set(key, [hit]);
  }
  return [...groups.values()].flatMap(split);
}
