// Detection health: alerts when the function's runs fail, or when no run has completed for two
// schedule periods (the timer stopped, the app is down, or runs hang). Contract with the
// function: its name is nbtscanDetection, a failed run is a failed invocation (requests with
// success == false), and a completed run logs a trace starting "nbtscan-detector run completed".

@description('Name of the scheduled query rule.')
param alertName string

@description('Name of the action group.')
param actionGroupName string

@description('Azure region of the rule.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Resource id of the Application Insights component the function logs to.')
param applicationInsightsId string

// main.bicep's schedulePeriodMinutes takes this type too, so the two cannot drift apart.
@export()
@description('Minutes between scheduled runs: the alert evaluates once per period.')
type schedulePeriod = 5 | 10 | 15 | 30

@description('Minutes between scheduled runs of the detection.')
param schedulePeriodMinutes schedulePeriod

@description('Email addresses notified when the alert fires; empty creates no action group.')
param emailReceivers string[]

var functionName = 'nbtscanDetection'
var completedMessagePrefix = 'nbtscan-detector run completed'
var windowMinutes = 2 * schedulePeriodMinutes

// One row when the detection is unhealthy, none when it is healthy.
var healthQuery = '''
let failedRuns = toscalar(
    requests
    | where operation_Name == "{0}" and success == false
    | count);
let completedRuns = toscalar(
    traces
    | where message startswith "{1}"
    | count);
print failed = failedRuns, completed = completedRuns
| where failed > 0 or completed == 0
'''

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(emailReceivers)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    enabled: true
    groupShortName: 'nbtscanhlth'
    emailReceivers: [
      for (address, index) in emailReceivers: {
        name: 'email-${index}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
  }
}

// No managed identity, so no role assignment: Azure Monitor runs the query with the permissions
// the last account to deploy or edit the rule had at that time. The deploying account created
// the component, so it can read it; a later edit by an account that cannot read the component
// leaves the rule unable to query it.
resource healthAlert 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = {
  name: alertName
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'nbtscan-detector health'
    description: 'The nbtscan detection function failed, or no run completed in the last ${windowMinutes} minutes.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT${schedulePeriodMinutes}M'
    windowSize: 'PT${windowMinutes}M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: format(healthQuery, functionName, completedMessagePrefix)
          timeAggregation: 'Count'
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
      actionGroups: empty(emailReceivers) ? [] : [actionGroup.id]
    }
  }
}

output alertName string = healthAlert.name
