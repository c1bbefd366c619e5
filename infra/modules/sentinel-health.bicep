// Detection health, end to end: alert rows that reached the table but did not become Sentinel
// alerts in time. That happens when the analytics rule is disabled, failing, or auto-disabled by
// Sentinel, or its query no longer matches the table; the function and the playbook then look
// healthy while no incident appears.

@description('Name of the scheduled query rule.')
param alertName string

@description('Azure region of the rule.')
param location string

@description('Tags applied to the rule.')
param tags object

@description('Resource id of the Sentinel workspace (the table and SecurityAlert are there).')
param sentinelWorkspaceResourceId string

@description('Name of the alert table.')
param alertTableName string

@description('Resource name (GUID) of the nbtscan analytics rule: SecurityAlert.AlertType is taken from it.')
param analyticsRuleName string

@description('Minutes a row may wait for its alert before this fires. The rule runs every 5 minutes over a window ending 5 minutes before, pauses 20 minutes after a run that alerts (sentinel-rule.bicep), and alert records take up to about 10 minutes to be queryable: about 40 minutes at worst for a row of a quiet day.')
@minValue(45)
@maxValue(720)
param graceMinutes int = 60

@description('Action groups to notify; may be empty.')
param actionGroupIds string[] = []

// Rows ingested in the hour before the grace period that no alert of the analytics rule carries,
// compared as the rule itself compares them: by the EventKey custom detail of its own alerts
// (AlertType is taken from the rule id, security-alert-schema), so a row the rule skipped is seen
// even when other rows of its incident were alerted. The result counts the incidents concerned.
// {0}: the table, {1}: grace minutes, {2}: the rule's id.
var unalertedQuery = '''
let alerted = SecurityAlert
    | where AlertType endswith "{2}"
    | where ExtendedProperties has "EventKey"
    | extend EventKey = tostring(parse_json(tostring(parse_json(ExtendedProperties)["Custom Details"])).EventKey[0])
    | where isnotempty(EventKey)
    | distinct EventKey;
{0}
| where TimeGenerated between (ago({1}m + 60m) .. ago({1}m))
| join kind=leftanti alerted on EventKey
| summarize UnalertedIncidents = dcount(IncidentKey), Rows = count(), OldestRow = min(TimeGenerated)
'''

// The latest api-version of Microsoft.Insights/scheduledQueryRules in the Bicep type index, as in
// health-alert.bicep.
resource unalertedRows 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = {
  name: alertName
  location: location
  tags: tags
  kind: 'LogAlert'
  // The rule queries as its own identity (Log Analytics Data Reader with a condition, in
  // sentinel-roles.bicep, that reads these two tables and nothing else), not with the permissions
  // of whoever last edited it.
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    displayName: 'nbtscan-detector: rows not turned into Sentinel alerts'
    description: 'Alert rows reached ${alertTableName} more than ${graceMinutes} minutes ago and no alert of the nbtscan analytics rule carries their EventKey: check that the nbtscan analytics rule is enabled and healthy (Sentinel > Analytics, and the SentinelHealth table).'
    severity: 1
    enabled: true
    scopes: [
      sentinelWorkspaceResourceId
    ]
    evaluationFrequency: 'PT15M'
    // The query's own ago() bounds decide; the window only has to cover them.
    windowSize: 'PT6H'
    autoMitigate: true
    // Azure Monitor validates the query at creation as the rule's identity, whose role assignment
    // needs the identity to exist first; the query is fixed text, analysed in test/infra.
    skipQueryValidation: true
    criteria: {
      allOf: [
        {
          query: format(unalertedQuery, alertTableName, graceMinutes, analyticsRuleName)
          timeAggregation: 'Total'
          metricMeasureColumn: 'UnalertedIncidents'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

output alertName string = unalertedRows.name

@description('Principal id of the rule\'s identity, granted read on the two tables it joins.')
output principalId string = unalertedRows.identity.principalId
