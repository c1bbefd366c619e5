// Deployed into the Sentinel workspace's resource group: the analytics rule that turns the alert
// rows into Sentinel alerts and incidents, and the automation rule that acts on its incidents.
//
// Scheduled, not NRT. alertRules@2025-09-01, the latest stable api-version, offers the kinds
// Scheduled, Fusion and MicrosoftSecurityIncidentCreation only; NRT exists in preview versions
// only (Azure/azure-rest-api-specs, specification/securityinsights/.../stable/2025-09-01/
// AlertRules.json). Scheduled also fits better: an NRT run sees only the last minute's ingestion
// and makes at most 30 alerts, so a row missed while the rule was disabled is never alerted and a
// burst is cut, whereas a scheduled run (every 5 minutes, up to 150 alerts) looks back a whole
// day and its query skips rows already alerted (analytics-rule.kql), so it catches up and drains.
// The cost is latency: up to 5 minutes between runs plus Sentinel's built-in 5-minute delay.

@description('Name of the existing Sentinel-enabled Log Analytics workspace.')
param workspaceName string

@description('Name of the alert table; the rule may only be created once it exists.')
param alertTableName string

@description('Resource id of the evidence-comment playbook the automation rule runs; empty: none (labels only).')
param evidencePlaybookId string = ''

@description('Resource ids of response playbooks (incident trigger) the automation rule also runs, e.g. the Content Hub\'s Isolate-MDEMachine.')
param responsePlaybookIds string[] = []

// The detection's metadata: loaded, not copied, so the Sentinel rule and the function describe
// the same detection.
var detection = loadYamlContent('../../functions/detection/nbtscan.yaml')
var ruleDefinition = loadJsonContent('../sentinel/analytics-rule.json')
var ruleQuery = loadTextContent('../sentinel/analytics-rule.kql')

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: workspaceName
}

// Properties: Microsoft.SecurityInsights/alertRules@2025-09-01 ScheduledAlertRuleProperties
// (Azure/bicep-types-az). The rule's name is derived from the detection id, so redeploying
// updates the same rule.
resource analyticsRule 'Microsoft.SecurityInsights/alertRules@2025-09-01' = {
  scope: workspace
  name: guid(workspace.id, detection.id)
  kind: 'Scheduled'
  properties: {
    displayName: detection.name
    description: detection.description
    severity: detection.severity
    enabled: true
    query: ruleQuery
    queryFrequency: ruleDefinition.queryFrequency
    queryPeriod: ruleDefinition.queryPeriod
    triggerOperator: ruleDefinition.triggerOperator
    triggerThreshold: ruleDefinition.triggerThreshold
    suppressionEnabled: ruleDefinition.suppressionEnabled
    suppressionDuration: ruleDefinition.suppressionDuration
    tactics: map(detection.tactics, tactic => tactic.name)
    techniques: map(detection.relevantTechniques, technique => technique.id)
    eventGroupingSettings: ruleDefinition.eventGroupingSettings
    entityMappings: ruleDefinition.entityMappings
    customDetails: ruleDefinition.customDetails
    alertDetailsOverride: ruleDefinition.alertDetailsOverride
    incidentConfiguration: ruleDefinition.incidentConfiguration
  }
  // ARM rejects a rule whose query names a table that does not exist yet; main.bicep passes the
  // table's name from sentinel-table.bicep's outputs, so this module waits for it.
  dependsOn: [alertTable]
}

resource alertTable 'Microsoft.OperationalInsights/workspaces/tables@2025-07-01' existing = {
  parent: workspace
  name: alertTableName
}

// Playbooks the automation rule runs, in order: the evidence comment first, then the responses.
var playbookIds = concat(empty(evidencePlaybookId) ? [] : [evidencePlaybookId], responsePlaybookIds)

// Automation rule (Microsoft.SecurityInsights/automationRules@2025-09-01): on every incident this
// analytics rule creates, add the label and run the playbooks. Running a playbook needs the
// "Azure Security Insights" app to hold Microsoft Sentinel Automation Contributor on the
// playbook's resource group (see README, "Response playbooks").
resource automationRule 'Microsoft.SecurityInsights/automationRules@2025-09-01' = {
  scope: workspace
  name: guid(workspace.id, detection.id, 'automation')
  properties: {
    displayName: 'nbtscan-detector: label and evidence'
    order: 1
    triggeringLogic: {
      isEnabled: true
      triggersOn: 'Incidents'
      triggersWhen: 'Created'
      conditions: [
        {
          conditionType: 'Property'
          conditionProperties: {
            propertyName: 'IncidentRelatedAnalyticRuleIds'
            operator: 'Contains'
            propertyValues: [analyticsRule.id]
          }
        }
      ]
    }
    actions: concat(
      [
        {
          order: 1
          actionType: 'ModifyProperties'
          actionConfiguration: {
            labels: [
              {
                labelName: 'nbtscan-detector'
              }
            ]
          }
        }
      ],
      map(range(0, length(playbookIds)), i => {
        order: i + 2
        actionType: 'RunPlaybook'
        actionConfiguration: {
          logicAppResourceId: playbookIds[i]
          tenantId: tenant().tenantId
        }
      })
    )
  }
}

output analyticsRuleId string = analyticsRule.id
output analyticsRuleName string = analyticsRule.name
output automationRuleName string = automationRule.name
