// Deployed into the Sentinel workspace's resource group: the analytics rule that turns the alert
// rows into Sentinel alerts and incidents, and the automation rule that acts on its incidents.
//
// Scheduled, not NRT. alertRules@2025-09-01, the latest stable api-version, offers the kinds
// Scheduled, Fusion and MicrosoftSecurityIncidentCreation only; NRT exists in preview versions
// only (Azure/azure-rest-api-specs, specification/securityinsights/.../stable/2025-09-01/
// AlertRules.json). Scheduled also fits better: an NRT run sees only the last minute's ingestion
// and makes at most 30 alerts, so a row missed while the rule was disabled is never alerted and a
// burst is cut, whereas a scheduled run (up to 150 alerts) looks back a whole day and its query
// skips rows already alerted (analytics-rule.kql), so it catches up and drains.
//
// Why the schedule is what analytics-rule.json says (every 5 minutes over a day, suppressed for
// 20 minutes after a run that alerts). The query alerts rows that no alert of this rule in
// SecurityAlert carries, so each run must see every alert the previous run made. Documented:
// - a run scheduled at S queries a window ending about 5 minutes before S ("runs scheduled
//   analytics rules on a five-minute delay from their scheduled time", scheduled-rules-overview);
// - a scheduled alert's SecurityAlert.TimeGenerated is its publishing time, ProcessingEndTime
//   (security-alert-schema), so a run's alerts are dated after it ran;
// - a failed run is retried "after predetermined and ever-increasing intervals, up to a point",
//   then the rule waits for its next scheduled time (troubleshoot-analytics-rules);
// - suppression: the rule stops running for suppressionDuration after it generates alerts
//   (scheduled-rules-overview, "Suppression"; AlertRules.json: "to wait since last time this
//   alert rule been triggered").
// Every 5 minutes with no suppression (the rule as first shipped), run N+1's window ends before
// run N's alerts were published, so it alerts the same rows again; with SecurityAlert records
// taking up to 10 minutes to become queryable, run N+2 may too. Widening only the schedule
// (e.g. every 30 minutes) would make every row wait that long, and stay safe only while the
// undocumented retries end early enough in the slot. Suppression ties
// the pause to the alerts themselves: the next run starts at least 20 minutes after the alerting
// run's scheduled time, when its alerts (published within its 5-minute slot, queryable up to 10
// minutes later) are inside the window and queryable, whatever the retries did. A quiet rule
// still runs every 5 minutes, so a first row is alerted as fast as a native 5-minute rule; rows
// arriving while the rule is suppressed wait up to 20 minutes more. The local Sentinel
// (sandbox/sentinel.ts) models exactly these behaviours, and test/sandbox/sentinelDay.test.ts
// runs a hard day through it across the undocumented values (window formula, retry intervals
// and window reuse, what suppression counts from, SecurityAlert latency up to 10 minutes): every
// row one alert, one incident per IncidentKey; the first shipped definition fails that day.

// One rule for every detection, not one per detection (issue 18). Every detection of
// functions/detections writes its rows to one table (DetectionId says which; the name
// NbtscanAlerts_CL stays, as renaming a custom table creates a new, empty one under existing
// deployments, their DCR stream and their health queries). What differs between detections comes
// from the row, through alertDetailsOverride (alertRules 2025-09-01, AlertDetailsOverride):
// title and description formats ({{AlertTitle}}, {{AlertDescription}}, at most 3 placeholders
// each), alertSeverityColumnName, alertTacticsColumnName (AlertTactics) and the Techniques alert
// dynamic property (AlertTechniques; marked Preview in learn.microsoft.com/azure/sentinel/
// customize-alert-details). The trade-offs:
// - alert cap: a scheduled run makes at most 150 alerts, per rule. One rule shares that budget
//   across detections; the query drains oldest first over a day of rows, so a burst is delayed,
//   never lost, and sentinelDay.test.ts bounds the delay. Per-detection rules would each have 150
//   a run, at the price of a deployment change per rule file and rules orphaned when a file goes.
//   Past about 400 alerts an hour across all detections, sustained, the loop is the better trade;
//   the table and rows need no change for it.
// - entity mappings: at most 10 per rule (Sentinel's limit for scheduled rules). The rule maps
//   the table's fixed entity columns (7 today: host, account, file, two hashes, two processes),
//   which the function fills from each detection's events; adding a detection adds no mapping,
//   so the limit does not grow with the number of detections.

@description('Name of the existing Sentinel-enabled Log Analytics workspace.')
param workspaceName string

@description('Name of the alert table; the rule may only be created once it exists.')
param alertTableName string

@description('Resource id of the evidence-comment playbook the automation rule runs; empty: none (labels only).')
param evidencePlaybookId string = ''

// An automation rule takes at most 20 actions (AutomationRules.json, 2025-09-01,
// AutomationRuleProperties.actions maxItems 20, Azure/azure-rest-api-specs
// specification/securityinsights/.../stable/2025-09-01/AutomationRules.json). This one adds the
// label, the evidence playbook and one action per response playbook: 1 + 1 + 18 = 20.
@maxLength(18)
@description('Resource ids of response playbooks (incident trigger) the automation rule also runs, e.g. the Content Hub\'s Isolate-MDEMachine; at most 18.')
param responsePlaybookIds string[] = []

// The detection's metadata: loaded, not copied, so the Sentinel rule and the function describe
// the same detection.
var detection = loadYamlContent('../../functions/detections/nbtscan.yaml')
var ruleDefinition = loadJsonContent('../sentinel/analytics-rule.json')
var ruleQuery = loadTextContent('../sentinel/analytics-rule.kql')

// The rule's resource name (a GUID), derived from the detection id so redeploying updates the
// same rule. The query reads only this rule's alerts: SecurityAlert.AlertType is taken from the
// rule id (security-alert-schema), so the id replaces the query's placeholder.
var ruleName = guid(workspace.id, detection.id)

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: workspaceName
}

// Properties: Microsoft.SecurityInsights/alertRules@2025-09-01 ScheduledAlertRuleProperties
// (Azure/bicep-types-az).
resource analyticsRule 'Microsoft.SecurityInsights/alertRules@2025-09-01' = {
  scope: workspace
  name: ruleName
  kind: 'Scheduled'
  properties: {
    displayName: detection.name
    description: detection.description
    severity: detection.severity
    enabled: true
    query: replace(ruleQuery, 'ANALYTICS_RULE_ID', ruleName)
    queryFrequency: ruleDefinition.queryFrequency
    queryPeriod: ruleDefinition.queryPeriod
    triggerOperator: ruleDefinition.triggerOperator
    triggerThreshold: ruleDefinition.triggerThreshold
    suppressionEnabled: ruleDefinition.suppressionEnabled
    suppressionDuration: ruleDefinition.suppressionDuration
    tactics: detection.tactics
    techniques: detection.relevantTechniques
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
