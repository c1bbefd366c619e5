import type { Grouping } from "../config/config";
import { hasProjectMetadata, type DetectionRule } from "../detection/rule";
import { eventKeyBasis } from "../enrich/enrich";
import { entitiesOf } from "../enrich/entities";
import type { DetectionEvent, EnrichedHit, Severity } from "../model";
import type { BenignScenario } from "../triage/scenarios";
import { severityOf, type SeverityAssessment, type SeverityPolicy } from "../triage/severity";
import { entityColumnsOf } from "./entityColumns";
import { renderIncidentText } from "./description";
import { incidentIdFor } from "./incidentId";
import { capEvent, jsonBytes, MAX_RECORD_BYTES, TRUNCATED_COLUMNS } from "./budget";
import type { IncidentEvent, IncidentRecord } from "./payload";

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
function incidentEvent(hit: EnrichedHit, event: DetectionEvent): IncidentEvent {
  const truncated = Object.fromEntries(
    TRUNCATED_COLUMNS.filter((c) => event[c] !== hit.event[c]).map((c) => [c, hit.event[c].length]),
  );
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
 * nbtscan's triage policy for a rule with its metadata (severity.ts); a rule without one keeps
 * the severity its YAML gives.
 */
function assessSeverity(hits: EnrichedHit[], ctx: IncidentContext): SeverityAssessment {
  if (hasProjectMetadata(ctx.rule)) return severityOf(hits, ctx.severityPolicy);
  return {
    severity: ctx.rule.severity as Severity,
    reason: `The rule's severity (${ctx.rule.severity}); no triage policy applies to this detection.`,
  };
}

/**
 * Turns one group of hits into the incident the outbox records; toPayload adds the alert rows
 * the playbook receives with it. What it stores and sends has
 * attacker-controlled text capped (budget.ts); the title, description and evidence are built
 * from the full values with their own limits.
 */
export function buildIncident(hits: EnrichedHit[], ctx: IncidentContext): IncidentRecord {
  const { rule } = ctx;
  const { severity, reason } = assessSeverity(hits, ctx);
  const text = renderIncidentText({
    hits,
    severity,
    severityReason: reason,
    rule,
    grouping: ctx.grouping,
    scenarios: ctx.scenarios,
  });
  const times = hits.map((h) => h.event.Timestamp).sort();
  // What is stored and sent carries attacker-controlled text capped; the text above, full values.
  const capped = hits.map((h) => ({ ...h, event: capEvent(h.event).event }));
  const incidentId = incidentIdFor(
    { ruleId: rule.id, workspaceId: ctx.workspaceId },
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
    ...(hasProjectMetadata(rule)
      ? {
          attack: {
            tactic: rule.tactics[0],
            techniques: rule.relevantTechniques,
            software: rule.software,
            campaign: rule.campaign,
          },
        }
      : {}),
    firstActivityTimeUtc: times[0],
    lastActivityTimeUtc: times[times.length - 1],
    entities: entitiesOf(capped, rule),
    events: hits.map((hit, i) => incidentEvent(hit, capped[i].event)),
    references: rule.references,
    detection: {
      id: rule.id,
      name: rule.name,
      version: rule.version,
      entityColumns: entityColumnsOf(rule.loaded.entityMappings),
      customDetails: rule.loaded.customDetails,
    },
    workspaceId: ctx.workspaceId,
    grouping: ctx.grouping,
  };
}

/**
 * The group's incident or, when its record would exceed the storage budget (budget.ts), the
 * incidents of consecutive equal slices of it (as many as the excess suggests; a slice still too
 * large is cut again). Deterministic: the same hits always give the same parts, so an incident id
 * never stands for two contents, and each hit is in exactly one part.
 */
export function buildIncidentParts(hits: EnrichedHit[], ctx: IncidentContext): IncidentRecord[] {
  const record = buildIncident(hits, ctx);
  const bytes = jsonBytes(record);
  if (hits.length === 1 || bytes <= MAX_RECORD_BYTES) return [record];
  const parts = Math.min(hits.length, Math.max(2, Math.ceil(bytes / MAX_RECORD_BYTES)));
  const size = Math.ceil(hits.length / parts);
  const slices: EnrichedHit[][] = [];
  for (let i = 0; i < hits.length; i += size) slices.push(hits.slice(i, i + size));
  return slices.flatMap((slice) => buildIncidentParts(slice, ctx));
}
