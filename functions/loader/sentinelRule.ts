import { compileSchema } from "../validation";

/** One entity of an analytic rule: its type and which result columns identify it. */
export interface EntityMapping {
  entityType: string;
  fieldMappings: { identifier: string; columnName: string }[];
}

/** Alert properties a rule takes from result columns instead of its own metadata. */
export interface AlertDetailsOverride {
  alertDisplayNameFormat?: string;
  alertDescriptionFormat?: string;
  alertTacticsColumnName?: string;
  alertSeverityColumnName?: string;
  alertDynamicProperties?: { alertProperty: string; value: string }[];
}

/**
 * A Microsoft Sentinel analytic rule as the Azure-Sentinel repository publishes it (one YAML file
 * per rule: `Solutions/<solution>/Analytic Rules/*.yaml`, `Detections/<table>/*.yaml`): the fields
 * the loader reads. A rule copied from that repository or exported from a workspace is valid.
 */
export interface SentinelRule {
  id: string;
  name: string;
  description: string;
  severity: string;
  kind: string;
  version?: string;
  requiredDataConnectors: { connectorId: string; dataTypes: string[] }[];
  queryFrequency?: string;
  queryPeriod?: string;
  triggerOperator?: string;
  triggerThreshold?: number;
  tactics?: string[];
  relevantTechniques?: string[];
  query: string;
  entityMappings?: EntityMapping[];
  customDetails?: Record<string, string>;
  alertDetailsOverride?: AlertDetailsOverride;
}

// Only the structure the loader relies on; the full Azure-Sentinel schema check is its own
// module (functions/detection, issue 14), which the loader runs as well once it is there.
const ruleSchema = {
  type: "object",
  required: ["id", "name", "description", "severity", "kind", "requiredDataConnectors", "query"],
  properties: {
    id: { type: "string", format: "uuid" },
    name: { type: "string", minLength: 1 },
    description: { type: "string" },
    severity: { enum: ["High", "Medium", "Low", "Informational"] },
    kind: { type: "string" },
    version: { type: "string" },
    requiredDataConnectors: {
      type: "array",
      items: {
        type: "object",
        required: ["connectorId", "dataTypes"],
        properties: {
          connectorId: { type: "string" },
          dataTypes: { type: "array", items: { type: "string" } },
        },
      },
    },
    queryFrequency: { type: "string" },
    queryPeriod: { type: "string" },
    triggerOperator: { type: "string" },
    triggerThreshold: { type: "integer" },
    tactics: { type: "array", items: { type: "string" } },
    relevantTechniques: { type: "array", items: { type: "string" } },
    query: { type: "string", minLength: 1 },
    entityMappings: {
      type: "array",
      items: {
        type: "object",
        required: ["entityType", "fieldMappings"],
        properties: {
          entityType: { type: "string" },
          fieldMappings: {
            type: "array",
            minItems: 1,
            items: {
              type: "object",
              required: ["identifier", "columnName"],
              properties: { identifier: { type: "string" }, columnName: { type: "string" } },
            },
          },
        },
      },
    },
    customDetails: { type: "object", additionalProperties: { type: "string" } },
    alertDetailsOverride: {
      type: "object",
      properties: {
        alertDisplayNameFormat: { type: "string" },
        alertDescriptionFormat: { type: "string" },
        alertTacticsColumnName: { type: "string" },
        alertSeverityColumnName: { type: "string" },
        alertDynamicProperties: {
          type: "array",
          items: {
            type: "object",
            required: ["alertProperty", "value"],
            properties: { alertProperty: { type: "string" }, value: { type: "string" } },
          },
        },
      },
    },
  },
} as const;

/** Checks a parsed YAML document against the analytic-rule fields; throws every problem. */
export const checkSentinelRule = compileSchema<SentinelRule>(ruleSchema, "analytic rule");

/** The result columns a rule's entity mappings, custom details and alert overrides name. */
export function columnsNamedByRule(rule: SentinelRule): { column: string; where: string }[] {
  const named: { column: string; where: string }[] = [];
  for (const entity of rule.entityMappings ?? []) {
    for (const field of entity.fieldMappings) {
      named.push({ column: field.columnName, where: `entityMappings (${entity.entityType})` });
    }
  }
  for (const [key, column] of Object.entries(rule.customDetails ?? {})) {
    named.push({ column, where: `customDetails.${key}` });
  }
  const override = rule.alertDetailsOverride;
  if (override) {
    for (const key of ["alertTacticsColumnName", "alertSeverityColumnName"] as const) {
      const column = override[key];
      if (column) named.push({ column, where: `alertDetailsOverride.${key}` });
    }
    for (const p of override.alertDynamicProperties ?? []) {
      named.push({ column: p.value, where: `alertDetailsOverride ${p.alertProperty}` });
    }
    // `{{Column}}` placeholders in the display name and description formats.
    for (const key of ["alertDisplayNameFormat", "alertDescriptionFormat"] as const) {
      for (const match of (override[key] ?? "").matchAll(/\{\{([^{}]+)\}\}/g)) {
        named.push({ column: match[1].trim(), where: `alertDetailsOverride.${key}` });
      }
    }
  }
  return named;
}
