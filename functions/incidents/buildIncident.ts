import type { Grouping } from "../config/config";
import type { DetectionRule } from "../detection/rule";
import { eventKeyBasis } from "../enrich/enrich";
import { entitiesOf } from "../enrich/entities";
import type { EnrichedHit } from "../model";
import type { BenignScenario } from "../triage/scenarios";
import { severityOf, type SeverityPolicy } from "../triage/severity";
import { buildAlertRows } from "./alertRows";
import { renderIncidentText } from "./description";
import { incidentIdFor } from "./incidentId";
import { capEvent } from "./budget";
import type { IncidentEvent, IncidentPayload } from "./payload";

/** What every incident of a run shares. */
export interface IncidentContext {
  rule: DetectionRule;
  workspaceId: string;
  grouping: Grouping;
  severityPolicy: SeverityPolicy;
  /** The benign scenarios, so the description can say how to verify each one that fits. */
  scenarios: readonly BenignScenario[];
}

/** The hit as the payload carries it: attacker-controlled text capped, and what was cut marked. */
function incidentEvent(hit: EnrichedHit): IncidentEvent {
  const { event, truncated } = capEvent(hit.event);
  return {
    ...event,
    eventKey: hit.key,
    eventKeyBasis: eventKeyBasis(hit.event),
    matchedBy: hit.matchedBy,
    renamedBinary: hit.renamedBinary,
    benignScenarios: hit.benign,
    ...(Object.keys(truncated).length > 0 ? { truncated } : {}),
  };
}

/**
 * Turns one group of hits into the payload the playbook receives. What it stores and sends has
 * attacker-controlled text capped (budget.ts); the title, description and evidence are built
 * from the full values with their own limits.
 */
export function buildIncident(hits: EnrichedHit[], ctx: IncidentContext): IncidentPayload {
  const { rule } = ctx;
  const { severity, reason } = severityOf(hits, ctx.severityPolicy);
  const text = renderIncidentText({
    hits,
    severity,
    severityReason: reason,
    rule,
    grouping: ctx.grouping,
    scenarios: ctx.scenarios,
  });
  const times = hits.map((h) => h.event.Timestamp).sort();
  const incidentId = incidentIdFor(
    rule.id,
    hits.map((h) => h.key),
  );
  return {
    schemaVersion: "2.0",
    incidentId,
    title: text.title,
    severity,
    severityReason: reason,
    status: "New",
    description: text.description,
    evidenceComment: text.evidenceComment,
    tactics: rule.tactics.map((t) => t.name),
    techniques: rule.relevantTechniques.map((t) => t.id),
    attack: {
      tactic: rule.tactics[0],
      techniques: rule.relevantTechniques,
      software: rule.software,
      campaign: rule.campaign,
    },
    firstActivityTimeUtc: times[0],
    lastActivityTimeUtc: times[times.length - 1],
    entities: entitiesOf(hits.map((h) => ({ ...h, event: capEvent(h.event).event }))),
    events: hits.map(incidentEvent),
    references: rule.references,
    detection: { id: rule.id, name: rule.name, version: rule.version },
    workspaceId: ctx.workspaceId,
    grouping: ctx.grouping,
    alertRows: buildAlertRows(hits, {
      incidentId,
      title: text.title,
      severity,
      description: text.description,
      evidenceComment: text.evidenceComment,
      firstActivityTimeUtc: times[0],
      lastActivityTimeUtc: times[times.length - 1],
      rule,
    }),
  };
}
