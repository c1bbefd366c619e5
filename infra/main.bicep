// nbtscan-detector: everything a working detection needs next to an existing Sentinel workspace.
// Subscription scope, so azd (and `az deployment sub create`) creates the resource group rg-<env>
// and the workspace may live in any resource group or subscription of the tenant.
targetScope = 'subscription'

import { schedulePeriod, schedules } from 'modules/schedule.bicep'

@description('Resource id of the existing Sentinel-enabled Log Analytics workspace: /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>.')
param sentinelWorkspaceResourceId string

@minLength(1)
@maxLength(64)
@description('Environment name: names the resource group (rg-<env>) and seeds resource names.')
param environmentName string = 'nbtscan-detector'

@minLength(1)
@description('Azure region for the new resources; it must offer the Flex Consumption plan.')
param location string = deployment().location

@description('Minutes between scheduled runs: the timer (DETECTION_SCHEDULE) and the health alert timings are derived from it (modules/schedule.bicep).')
param schedulePeriodMinutes schedulePeriod = 5

@description('How hits become incidents: one per device per run, one per run, or one per event (INCIDENT_GROUPING).')
@allowed([
  'device'
  'run'
  'event'
])
param incidentGrouping string = 'device'

@description('ISO 8601 duration the first run looks back and every query spans (LOOKBACK).')
param lookback string = 'P7D'

@description('ISO 8601 margin before now that a query window stops at (INGESTION_SETTLE).')
param ingestionSettle string = 'PT2M'

@description('Log Analytics query API base URL (LOG_ANALYTICS_ENDPOINT); sovereign clouds set their own.')
// environment() has no Log Analytics query endpoint, so the public cloud's is the default here.
param logAnalyticsEndpoint string = 'https://api.loganalytics.io/v1'

@description('Name of the state table (STATE_TABLE_NAME).')
@minLength(3)
@maxLength(63)
param stateTableName string = 'nbtscandetector'

// A string, not an array: azd binds it from one environment variable (HEALTH_ALERT_EMAILS).
@description('Comma-separated email addresses the health alerts notify; empty notifies nobody (azd up warns).')
param healthAlertEmails string = ''

@description('Object id of the "Azure Security Insights" service principal in this tenant (the preprovision hook looks it up); empty: the automation rule only labels, and the role is assigned by hand (README).')
param securityInsightsPrincipalId string = ''

// Default on. Off: the storage account is reachable from any network (still Entra-only): for
// trials only.
@description('Private networking: a virtual network for the function and private endpoints for its storage, whose public network access is then off (azd: VNET_ENABLED). false is for trials only.')
param vnetEnabled bool = true

// At most 18: the automation rule takes at most 20 actions (sentinel-rule.bicep).
@maxLength(18)
@description('Resource ids of response playbooks (Sentinel incident trigger) the automation rule runs on every nbtscan incident, e.g. Isolate-MDEMachine; at most 18.')
param responsePlaybookIds string[] = []

// Exclusions as a file (functions/triage/exclusions.ts), carried to the EXCLUSIONS app setting.
// Base64 because azd pastes each variable's text into main.parameters.json before reading it as
// JSON (azure-dev, BicepProvider: envsubst.Eval over the file, then json.Unmarshal): a document's
// quotes, backslashes (C:\Program Files) and line breaks would break the file; base64 has none.
// azd env set EXCLUSIONS_BASE64 "$(base64 < exclusions.yaml | tr -d '\n')"
@description('The exclusions document (JSON or YAML), base64-encoded, for the EXCLUSIONS app setting; empty: none.')
param exclusionsBase64 string = ''

@description('Alias of the Sentinel watchlist the exclusions are kept in (EXCLUSIONS_WATCHLIST); created in the workspace with its columns.')
@minLength(1)
@maxLength(64)
param exclusionsWatchlistAlias string = 'nbtscan-exclusions'

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var serviceName = 'detector'
var schedule = schedules[string(schedulePeriodMinutes)]
var alertEmails = filter(map(split(healthAlertEmails, ','), address => trim(address)), address => !empty(address))

// /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>
var workspaceIdParts = split(sentinelWorkspaceResourceId, '/')
var workspaceSubscriptionId = workspaceIdParts[2]
var workspaceResourceGroupName = workspaceIdParts[4]
var workspaceName = last(workspaceIdParts)

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    publisherPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: 'app-package-${resourceToken}'
    stateTableName: stateTableName
    functionPrincipalId: identity.outputs.principalId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    vnetEnabled: vnetEnabled
  }
}

// The function's storage off the public internet (network.bicep), unless vnetEnabled is false.
module network 'modules/network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
  }
}

// The workspace itself, read for its region: the alert table's DCR must be in it.
resource sentinelWorkspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroupName)
  name: workspaceName
}

// The custom table of alert rows and its DCR live with the workspace (sentinel-table.bicep).
module sentinelTable 'modules/sentinel-table.bicep' = {
  name: 'sentinel-table-${resourceToken}'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroupName)
  params: {
    workspaceName: workspaceName
    workspaceLocation: sentinelWorkspace.location
    dataCollectionRuleName: '${abbrs.insightsDataCollectionRules}${resourceToken}'
    tags: tags
  }
}

module playbook 'modules/playbook.bicep' = {
  name: 'playbook'
  scope: rg
  params: {
    name: '${abbrs.logicWorkflows}${resourceToken}'
    location: location
    tags: tags
    logsIngestionEndpoint: sentinelTable.outputs.logsIngestionEndpoint
    dataCollectionRuleImmutableId: sentinelTable.outputs.dataCollectionRuleImmutableId
    streamName: sentinelTable.outputs.streamName
    diagnosticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    callerClientId: identity.outputs.clientId
  }
}

// The incident-trigger playbook that adds the evidence comment (evidence-playbook.bicep).
module evidencePlaybook 'modules/evidence-playbook.bicep' = {
  name: 'evidence-playbook'
  scope: rg
  params: {
    name: '${abbrs.logicWorkflows}evidence-${resourceToken}'
    connectionName: 'azuresentinel-${resourceToken}'
    location: location
    tags: tags
    workspaceCustomerId: sentinelAccess.outputs.customerId
    logAnalyticsEndpoint: logAnalyticsEndpoint
    alertTableName: sentinelTable.outputs.tableName
    diagnosticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    securityInsightsPrincipalId: securityInsightsPrincipalId
  }
}

// The playbooks' and the Sentinel health rule's roles where the workspace and the DCR are
// (sentinel-roles.bicep).
module sentinelRoles 'modules/sentinel-roles.bicep' = {
  name: 'sentinel-roles-${resourceToken}'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroupName)
  params: {
    dataCollectionRuleName: sentinelTable.outputs.dataCollectionRuleName
    ingestPlaybookPrincipalId: playbook.outputs.principalId
    workspaceName: workspaceName
    alertTableName: sentinelTable.outputs.tableName
    evidencePlaybookPrincipalId: evidencePlaybook.outputs.principalId
    sentinelHealthPrincipalId: sentinelHealth.outputs.principalId
  }
}

// The analytics rule over the table and the automation rule on its incidents (sentinel-rule.bicep).
module sentinelRule 'modules/sentinel-rule.bicep' = {
  name: 'sentinel-rule-${resourceToken}'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroupName)
  params: {
    workspaceName: workspaceName
    alertTableName: sentinelTable.outputs.tableName
    evidencePlaybookId: evidencePlaybook.outputs.sentinelMayRunPlaybooks
      ? evidencePlaybook.outputs.id
      : ''
    responsePlaybookIds: responsePlaybookIds
  }
}

// Role assignments on the workspace must be deployed where the workspace is.
module sentinelAccess 'modules/sentinel-access.bicep' = {
  name: 'sentinel-access-${resourceToken}'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroupName)
  params: {
    workspaceName: workspaceName
    detectorPrincipalId: identity.outputs.principalId
  }
}

// The watchlist SOC analysts keep exclusions in, in the workspace (exclusions-watchlist.bicep).
module exclusionsWatchlist 'modules/exclusions-watchlist.bicep' = {
  name: 'exclusions-watchlist-${resourceToken}'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroupName)
  params: {
    workspaceName: workspaceName
    alias: exclusionsWatchlistAlias
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    planName: '${abbrs.webServerFarms}${resourceToken}'
    name: '${abbrs.webSitesFunctions}${resourceToken}'
    location: location
    tags: tags
    serviceName: serviceName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    virtualNetworkSubnetId: vnetEnabled ? network!.outputs.appSubnetId : ''
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    logAnalyticsWorkspaceId: sentinelAccess.outputs.customerId
    logAnalyticsEndpoint: logAnalyticsEndpoint
    lookback: lookback
    ingestionSettle: ingestionSettle
    detectionSchedule: schedule.ncrontab
    incidentGrouping: incidentGrouping
    stateTableName: storage.outputs.stateTableName
    // No secret: the trigger accepts only the identity's token (playbook.bicep).
    playbookUrl: playbook.outputs.invokeUrl
    playbookTokenAudience: playbook.outputs.callerAudience
    exclusions: base64ToString(exclusionsBase64)
    exclusionsWatchlist: exclusionsWatchlist.outputs.alias
  }
}

module healthAlert 'modules/health-alert.bicep' = {
  name: 'health-alert'
  scope: rg
  params: {
    alertName: '${abbrs.insightsScheduledQueryRules}${resourceToken}'
    dataAlertName: '${abbrs.insightsScheduledQueryRules}data-${resourceToken}'
    actionGroupName: '${abbrs.insightsActionGroups}${resourceToken}'
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    schedulePeriodMinutes: schedulePeriodMinutes
    emailReceivers: alertEmails
  }
}

// Rows that reached the alert table but never became Sentinel alerts (sentinel-health.bicep).
module sentinelHealth 'modules/sentinel-health.bicep' = {
  name: 'sentinel-health'
  scope: rg
  params: {
    alertName: '${abbrs.insightsScheduledQueryRules}sentinel-${resourceToken}'
    location: location
    tags: tags
    sentinelWorkspaceResourceId: sentinelWorkspaceResourceId
    alertTableName: sentinelTable.outputs.tableName
    analyticsRuleName: sentinelRule.outputs.analyticsRuleName
    actionGroupIds: healthAlert.outputs.actionGroupIds
  }
}

// azd stores these in the environment; none is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output PLAYBOOK_NAME string = playbook.outputs.name
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output APPLICATION_INSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output HEALTH_ALERT_NAME string = healthAlert.outputs.alertName
output DATA_ALERT_NAME string = healthAlert.outputs.dataAlertName
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output EVIDENCE_PLAYBOOK_NAME string = evidencePlaybook.outputs.name
output ALERT_TABLE_NAME string = sentinelTable.outputs.tableName
output SENTINEL_ANALYTICS_RULE_NAME string = sentinelRule.outputs.analyticsRuleName
output SENTINEL_AUTOMATION_RULE_NAME string = sentinelRule.outputs.automationRuleName
output DATA_COLLECTION_RULE_NAME string = sentinelTable.outputs.dataCollectionRuleName
output SENTINEL_HEALTH_ALERT_NAME string = sentinelHealth.outputs.alertName
output EXCLUSIONS_WATCHLIST string = exclusionsWatchlist.outputs.alias
