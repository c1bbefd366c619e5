// Deployed into the Sentinel workspace's own resource group (which may be in another
// subscription): the role assignments on the workspace, and its customer id for the function.

@description('Name of the existing Sentinel-enabled Log Analytics workspace.')
param workspaceName string

@description('Principal id of the function identity: read-only query access.')
param detectorPrincipalId string

// Log Analytics Reader: query the workspace; it cannot change it or read its shared keys.
var logAnalyticsReaderRoleId = '73c42c96-874c-492b-b04d-ab87d138a893'
// The playbooks' roles are in sentinel-roles.bicep.

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: workspaceName
}

resource detectorReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, detectorPrincipalId, logAnalyticsReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      logAnalyticsReaderRoleId
    )
    principalId: detectorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The query API addresses a workspace by this GUID, not by its resource id.
output customerId string = workspace.properties.customerId
