// The context the incident tests build with: the shipped rule and benign scenarios, per-device
// grouping and the default severity policy, as a run with default settings has them.
import { loadDetectionRule } from "../../functions/detection/rule";
import { buildIncident, type IncidentContext } from "../../functions/incidents/buildIncident";
import type { IncidentRecord } from "../../functions/incidents/payload";
import type { EnrichedHit } from "../../functions/model";
import { loadBenignScenarios } from "../../functions/triage/scenarios";
import { DEFAULT_SEVERITY_POLICY } from "../../functions/triage/severity";

/** A test workspace id (a v4 UUID, as Log Analytics customer ids are). */
export const TEST_WORKSPACE_ID = "11111111-2222-4333-8444-555555555555";

/** How a default run builds incidents. */
export const defaultIncidentContext: IncidentContext = {
  rule: loadDetectionRule(),
  workspaceId: TEST_WORKSPACE_ID,
  grouping: "device",
  severityPolicy: DEFAULT_SEVERITY_POLICY,
  scenarios: loadBenignScenarios(),
};

/** The incident a default run records for these hits, with some of its fields set by the test. */
export function incidentOf(
  hits: EnrichedHit[],
  overrides: Partial<IncidentRecord> = {},
): IncidentRecord {
  return { ...buildIncident(hits, { ...defaultIncidentContext, scenarios: [] }), ...overrides };
}
