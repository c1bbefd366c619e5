// Deployed into the Sentinel workspace's own resource group (which may be in another
// subscription): the role assignments on the workspace, and its customer id for the function.

@description('Name of the existing Sentinel-enabled Log Analytics workspace.')
param workspaceName string

@description('Principal id of the function identity: read-only query access.')
param detectorPrincipalId string

// Log Analytics Data Reader (built-in since 2025-09; source: Microsoft Learn, "Azure built-in roles
// for Monitor"), the narrowest built-in role that can run the detection's query. Its actions:
// - Microsoft.OperationalInsights/workspaces/read: resolve the workspace the query API addresses;
// - Microsoft.OperationalInsights/workspaces/query/read: run a query (POST .../query);
// - data action Microsoft.OperationalInsights/workspaces/tables/data/read: read the rows of the
//   tables it queries (DeviceProcessEvents, DeviceFileEvents).
// Log Analytics Reader, used before, adds */read on every resource in scope and search actions.
var logAnalyticsDataReaderRoleId = '3b03c2da-16b3-4a49-8834-0f8130efdd3b'
// The playbooks' roles are in sentinel-roles.bicep.

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: workspaceName
}

resource detectorReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, detectorPrincipalId, logAnalyticsDataReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      logAnalyticsDataReaderRoleId
    )
    principalId: detectorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The query API addresses a workspace by this GUID, not by its resource id.
output customerId string = workspace.properties.customerId
