// Storage for the Functions host (timer locks, keys), the deployment package, the detection's
// state table and the detection queue the fan-out runs on. Shared keys are off: every caller
// authenticates with Entra.

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

@description('Queue the timer tick puts one message per detection on, and the queue worker drains (functions/fanout/queues.ts DETECTION_QUEUE_NAME).')
@minLength(3)
@maxLength(56)
param detectionQueueName string = 'detection-runs'

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
// Storage Queue Data Contributor, on the detection queue and its poison queue only: the tick
// sends (and peeks the poison queue), the queue trigger receives, deletes, and on a failure
// updates the message's visibility or adds it to the poison queue. The documented pair Storage
// Queue Data Reader + Message Processor lacks the update a failed message's release needs (403:
// MicrosoftDocs/azure-docs#120932); Contributor is the built-in role that has it
// (learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage, "Storage Queue
// Data Contributor"). The host itself uses no queue for a timer and a queue trigger.
var storageQueueDataContributorRoleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'

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

// The fan-out's queues (Microsoft.Storage/storageAccounts/queueServices/queues 2025-06-01). The
// poison queue is `<queue>-poison`, the name the queue trigger moves a message to after
// host.json's maxDequeueCount failed attempts (functions-bindings-storage-queue-trigger, "Poison
// messages"); created here so its role assignment has a resource to be scoped to, and so the
// tick can watch it from the first day.
resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-06-01' = {
  parent: storage
  name: 'default'
}

resource detectionQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-06-01' = {
  parent: queueService
  name: detectionQueueName
}

resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-06-01' = {
  parent: queueService
  name: '${detectionQueueName}-poison'
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

// One assignment per queue: the identity can use these two queues and no other in the account (a
// role assigned on a queue "applies to messages in the queue, and to queue properties and
// metadata": learn.microsoft.com/azure/storage/queues/authorize-access-azure-active-directory,
// "Resource scope").
resource detectionQueueContributorRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(detectionQueue.id, functionPrincipalId, storageQueueDataContributorRoleId)
  scope: detectionQueue
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      storageQueueDataContributorRoleId
    )
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource poisonQueueContributorRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(poisonQueue.id, functionPrincipalId, storageQueueDataContributorRoleId)
  scope: poisonQueue
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      storageQueueDataContributorRoleId
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
output detectionQueueName string = detectionQueue.name
output poisonQueueName string = poisonQueue.name
