// Storage for the Functions host (timer locks, keys), the deployment package and the
// detection's state table. Shared keys are off: every caller authenticates with Entra.

@description('Name of the storage account.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the account.')
param tags object

@description('Blob container the Flex Consumption deployment package is uploaded to.')
param deploymentContainerName string

@description('Table holding the watermark, the seen-event ledger and the incident outbox.')
param stateTableName string

@description('Principal id of the function identity.')
param functionPrincipalId string

@description('Resource id of the monitoring Log Analytics workspace the table service\'s logs go to.')
param logAnalyticsWorkspaceId string

@description('Private networking (network.bicep): public network access off, reached through private endpoints only.')
param vnetEnabled bool

@description('Days a deleted blob or container can be restored (1 to 365).')
@minValue(1)
@maxValue(365)
param softDeleteRetentionDays int = 7

// Storage Blob Data Owner: host storage (container creation, timer singleton leases, keys) and
// the deployment package. The host docs name it the minimum for host storage.
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Table Data Contributor: the state table, and the host's diagnostic-events table.
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
// No Storage Queue Data Contributor: a timer trigger needs only blob leases; queues are used
// by blob triggers and Durable Functions, which this app does not have.

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // With vnetEnabled, as the Flex Consumption quickstarts do: no public network access at all;
    // the app reaches blob, table and queue through their private endpoints, and ARM (control
    // plane) still creates the container and the table. Without it (trials only) the account
    // stays reachable from any network, though still only with an Entra token
    // (Microsoft.Storage/storageAccounts 2025-06-01: publicNetworkAccess, networkAcls).
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: vnetEnabled
      ? {
          bypass: 'None'
          defaultAction: 'Deny'
        }
      : {
          bypass: 'AzureServices'
          defaultAction: 'Allow'
        }
  }
}

// Soft delete for blobs and containers: a deleted or overwritten deployment package, or a deleted
// container, can be restored for softDeleteRetentionDays (blobServices deleteRetentionPolicy and
// containerDeleteRetentionPolicy, learn.microsoft.com/azure/storage/blobs/soft-delete-blob-overview
// and soft-delete-container-overview). Deleted data is billed as active data until it expires.
resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-06-01' = {
  parent: storage
  name: 'default'
}

resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-06-01' = {
  parent: tableService
  name: stateTableName
}

// Every read, write and delete on the state table (watermark, ledger, outbox): who changed the
// detection's memory, and the failures a run hit.
// 2021-05-01-preview is the current diagnostic settings API (the one Microsoft's templates use);
// the only stable one, 2016-09-01, is the classic form that cannot target a workspace by scope.
#disable-next-line use-recent-api-versions
resource tableServiceLog 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'table-to-monitoring'
  scope: tableService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

resource blobOwnerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionPrincipalId, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      storageBlobDataOwnerRoleId
    )
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource tableContributorRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionPrincipalId, storageTableDataContributorRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      storageTableDataContributorRoleId
    )
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentContainer.name
output stateTableName string = stateTable.name
