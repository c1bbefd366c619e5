// Deployed into the Sentinel workspace's resource group: what each playbook identity may do there,
// and nothing more. Each grant names its holder's job.

@description('Name of the alert table\'s data collection rule.')
param dataCollectionRuleName string

@description('Principal id of the ingest playbook\'s identity: sends alert rows through the DCR.')
param ingestPlaybookPrincipalId string

@description('Name of the existing Sentinel-enabled Log Analytics workspace.')
param workspaceName string

@description('Name of the alert table the evidence playbook and the health rule read.')
param alertTableName string

@description('Principal id of the evidence playbook\'s identity: reads the evidence, comments on the incident.')
param evidencePlaybookPrincipalId string

@description('Principal id of the Sentinel health rule\'s identity: joins the alert table with SecurityAlert.')
param sentinelHealthPrincipalId string

// Monitoring Metrics Publisher: the built-in role the Logs Ingestion API requires on the DCR
// (Microsoft.Insights/Telemetry/Write, data action). Scoped to this one DCR, the ingest playbook
// can write alert rows to NbtscanAlerts_CL and nothing else: no query, no Sentinel write.
// Source: learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview#permissions.
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource dataCollectionRule 'Microsoft.Insights/dataCollectionRules@2024-03-11' existing = {
  name: dataCollectionRuleName
}

resource ingestPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dataCollectionRule.id, ingestPlaybookPrincipalId, monitoringMetricsPublisherRoleId)
  scope: dataCollectionRule
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      monitoringMetricsPublisherRoleId
    )
    principalId: ingestPlaybookPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: workspaceName
}

// Reading the two tables. Per-table read actions (workspaces/query/<table>/read) cannot target a
// table the Logs Ingestion API created, nor any single custom table: Azure Monitor, "Manage access
// to Log Analytics workspaces" (learn.microsoft.com/azure/azure-monitor/logs/manage-table-access).
// What works for them is granular RBAC: Log Analytics Data Reader (built-in; actions
// workspaces/read and workspaces/query/read, data action workspaces/tables/data/read) with an ABAC
// condition that allows the data action on these two tables only, the restrictive form of
// "Configure granular RBAC" (learn.microsoft.com/azure/azure-monitor/logs/granular-rbac-use-case):
// every other action passes, the data action only on a listed table. Table names are case
// sensitive there. Assignments are additive, so neither identity holds any other read role here.
// Log alerts are supported with a managed identity only, which sentinel-health.bicep uses.
var logAnalyticsDataReaderRoleId = '3b03c2da-16b3-4a49-8834-0f8130efdd3b'
var alertTablesOnly = '((!(ActionMatches{\'Microsoft.OperationalInsights/workspaces/tables/data/read\'})) OR (@Resource[Microsoft.OperationalInsights/workspaces/tables:name] StringEquals \'SecurityAlert\' OR @Resource[Microsoft.OperationalInsights/workspaces/tables:name] StringEquals \'${alertTableName}\'))'

// The evidence playbook reads the incident's evidence comment; the Sentinel health rule
// (sentinel-health.bicep) the rows that did not become alerts.
resource evidenceTableReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, evidencePlaybookPrincipalId, logAnalyticsDataReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      logAnalyticsDataReaderRoleId
    )
    principalId: evidencePlaybookPrincipalId
    principalType: 'ServicePrincipal'
    condition: alertTablesOnly
    conditionVersion: '2.0'
  }
}

resource healthTableReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, sentinelHealthPrincipalId, logAnalyticsDataReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      logAnalyticsDataReaderRoleId
    )
    principalId: sentinelHealthPrincipalId
    principalType: 'ServicePrincipal'
    condition: alertTablesOnly
    conditionVersion: '2.0'
  }
}

// The evidence playbook's Sentinel job, action by action; no built-in role is this narrow, and
// the built-in Microsoft Sentinel Responder also holds Microsoft.OperationalInsights/workspaces/*/read,
// a read of every table that the condition above could not narrow (assignments are additive).
// Actions from the Microsoft.SecurityInsights operation list
// (learn.microsoft.com/azure/role-based-access-control/permissions/security).
var evidenceActions = [
  // The Sentinel connector reads the incident it comments on.
  'Microsoft.SecurityInsights/incidents/read'
  // Write the evidence comment, and read comments back.
  'Microsoft.SecurityInsights/incidents/comments/read'
  'Microsoft.SecurityInsights/incidents/comments/write'
]

// Custom roles are assignable at resource-group scope at the narrowest; the assignment below is
// on the workspace itself. Creating it needs Microsoft.Authorization/roleDefinitions/write here
// (README, "Rights for the account that deploys").
resource evidenceRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'nbtscan-detector evidence commenter')
  properties: {
    roleName: 'nbtscan-detector evidence commenter (${guid(resourceGroup().id)})'
    description: 'Reads Sentinel incidents and comments on them; no log data.'
    type: 'CustomRole'
    permissions: [
      {
        actions: evidenceActions
        notActions: []
      }
    ]
    assignableScopes: [resourceGroup().id]
  }
}

resource evidenceCommenter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, evidencePlaybookPrincipalId, evidenceRole.id)
  scope: workspace
  properties: {
    roleDefinitionId: evidenceRole.id
    principalId: evidencePlaybookPrincipalId
    principalType: 'ServicePrincipal'
  }
}
