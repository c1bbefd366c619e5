// Deployed into the Sentinel workspace's resource group: what each playbook identity may do there,
// and nothing more. Each grant names its holder's job.

@description('Name of the alert table\'s data collection rule.')
param dataCollectionRuleName string

@description('Principal id of the ingest playbook\'s identity: sends alert rows through the DCR.')
param ingestPlaybookPrincipalId string

@description('Name of the existing Sentinel-enabled Log Analytics workspace.')
param workspaceName string

@description('Name of the alert table the evidence playbook reads.')
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

// The evidence playbook's job, action by action; no built-in role is this narrow (Microsoft
// Sentinel Responder also manages automation rules, deployments and alert rules; Log Analytics
// Reader reads every table and all configuration). Actions from the Microsoft.SecurityInsights and
// Microsoft.OperationalInsights operation lists (learn.microsoft.com/azure/role-based-access-control/
// permissions/security and .../monitor); table-level read as in "Manage access to Log Analytics
// workspaces" (learn.microsoft.com/azure/azure-monitor/logs/manage-access).
var evidenceActions = [
  // The Sentinel connector reads the incident it comments on.
  'Microsoft.SecurityInsights/incidents/read'
  // Write the evidence comment, and read comments back.
  'Microsoft.SecurityInsights/incidents/comments/read'
  'Microsoft.SecurityInsights/incidents/comments/write'
  // Run a query against the workspace ...
  'Microsoft.OperationalInsights/workspaces/read'
  'Microsoft.OperationalInsights/workspaces/query/read'
  // ... over these two tables only: the alert records (for the IncidentKey) and the alert rows.
  'Microsoft.OperationalInsights/workspaces/query/SecurityAlert/read'
  'Microsoft.OperationalInsights/workspaces/query/${alertTableName}/read'
]

// The Sentinel health rule's job (sentinel-health.bicep): the query half of the evidence
// playbook's actions, over the same two tables, and no Sentinel write.
var alertWatchActions = [
  'Microsoft.OperationalInsights/workspaces/read'
  'Microsoft.OperationalInsights/workspaces/query/read'
  'Microsoft.OperationalInsights/workspaces/query/SecurityAlert/read'
  'Microsoft.OperationalInsights/workspaces/query/${alertTableName}/read'
]

// Custom roles are assignable at resource-group scope at the narrowest; the assignment below is
// on the workspace itself.
resource evidenceRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'nbtscan-detector evidence commenter')
  properties: {
    roleName: 'nbtscan-detector evidence commenter (${guid(resourceGroup().id)})'
    description: 'Reads SecurityAlert and the nbtscan-detector alert table, and comments on Sentinel incidents.'
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

resource alertWatchRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'nbtscan-detector alert watcher')
  properties: {
    roleName: 'nbtscan-detector alert watcher (${guid(resourceGroup().id)})'
    description: 'Queries SecurityAlert and the nbtscan-detector alert table, nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: alertWatchActions
        notActions: []
      }
    ]
    assignableScopes: [resourceGroup().id]
  }
}

resource alertWatcher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, sentinelHealthPrincipalId, alertWatchRole.id)
  scope: workspace
  properties: {
    roleDefinitionId: alertWatchRole.id
    principalId: sentinelHealthPrincipalId
    principalType: 'ServicePrincipal'
  }
}
