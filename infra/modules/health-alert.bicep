// Detection health, two log search alert rules on the function's Application Insights component:
// - health: the function's runs fail, or no run has completed for about two schedule periods (the
//   timer stopped, the app is down, or runs hang), or a rule of functions/detections did not load
//   (each run logs "nbtscan-detector detection unavailable: '<rule name>' (<id>): <reason>");
// - data: a run found a Defender for Endpoint table silent for DATA_SILENCE_WARNING, or missing
//   from the workspace, so the detection would find nothing however long it runs.
// Contract with the function (functions/run/runLog.ts): its name is nbtscanDetection, a failed run
// is a failed invocation (requests with success == false), a completed run logs a trace starting
// "nbtscan-detector run completed", and a silent or missing table a trace containing
// "nbtscan-detector data silence".

import { schedulePeriod, schedules } from 'schedule.bicep'

@description('Name of the detection health scheduled query rule.')
param alertName string

@description('Name of the data liveness scheduled query rule.')
param dataAlertName string

@description('Name of the action group.')
param actionGroupName string

@description('Azure region of the rules.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Application Insights component (same resource group) the function logs to.')
param applicationInsightsName string

@description('Minutes between scheduled runs of the detection.')
param schedulePeriodMinutes schedulePeriod

@description('Email addresses notified when an alert fires; empty creates no action group.')
param emailReceivers string[]

// Reader, granted on the component alone: its */read covers reading the component and querying
// its telemetry (Microsoft.Insights/components/query/read) and nothing beyond that one resource.
// No narrower built-in role reads Application Insights telemetry; Log Analytics Data Reader covers
// workspaces only.
var readerRoleId = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'

var functionName = 'nbtscanDetection'
var completedMessagePrefix = 'nbtscan-detector run completed'
var unavailableMessagePrefix = 'nbtscan-detector detection unavailable'
var dataSilenceMessagePrefix = 'nbtscan-detector data silence'
var timing = schedules[string(schedulePeriodMinutes)]
var evaluationFrequency = 'PT${timing.alertFrequencyMinutes}M'
var windowSize = 'PT${timing.alertWindowMinutes}M'

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
let unavailableRules = toscalar(
    traces
    | where message startswith "{2}"
    | count);
print failed = failedRuns, completed = completedRuns, unavailable = unavailableRules
| where failed > 0 or completed == 0 or unavailable > 0
'''

// One row per silence or missing-table line in the window; the message names the table. A
// missing table fails the run, whose error line carries the same text after "run failed: ".
var dataQuery = '''
traces
| where message contains "{0}"
| summarize lines = count() by message
'''

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

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

// Each rule runs its query as its own system-assigned identity (Reader on the component below),
// not with the permissions of whoever last deployed or edited it.
resource healthAlert 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = {
  name: alertName
  location: location
  tags: tags
  kind: 'LogAlert'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    displayName: 'nbtscan-detector health'
    description: 'The detection function failed, no run completed in the last ${timing.alertWindowMinutes} minutes, or a detection rule did not load (its log line names the rule).'
    severity: 1
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: evaluationFrequency
    windowSize: windowSize
    autoMitigate: true
    // Azure Monitor validates the query at creation as the rule's identity, whose role assignment
    // (below) needs the identity to exist first; the query is fixed text, tested in test/infra.
    skipQueryValidation: true
    criteria: {
      allOf: [
        {
          query: format(healthQuery, functionName, completedMessagePrefix, unavailableMessagePrefix)
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

resource dataAlert 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = {
  name: dataAlertName
  location: location
  tags: tags
  kind: 'LogAlert'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    displayName: 'nbtscan-detector data liveness'
    description: 'A Defender for Endpoint table the nbtscan detection queries received nothing for DATA_SILENCE_WARNING, or is missing from the workspace: check the Microsoft Defender XDR (Defender for Endpoint) data connector.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: evaluationFrequency
    windowSize: windowSize
    autoMitigate: true
    // Azure Monitor validates the query at creation as the rule's identity, whose role assignment
    // (below) needs the identity to exist first; the query is fixed text, tested in test/infra.
    skipQueryValidation: true
    criteria: {
      allOf: [
        {
          query: format(dataQuery, dataSilenceMessagePrefix)
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

resource healthAlertReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, healthAlert.id, readerRoleId)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRoleId)
    principalId: healthAlert.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource dataAlertReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, dataAlert.id, readerRoleId)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRoleId)
    principalId: dataAlert.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output alertName string = healthAlert.name
output dataAlertName string = dataAlert.name
// For the Sentinel health rule (sentinel-health.bicep), which notifies the same people.
output actionGroupIds string[] = empty(emailReceivers) ? [] : [actionGroup.id]
