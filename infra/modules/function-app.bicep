// The detection function: Flex Consumption (FC1) on Linux, Node 22, running as the user-assigned
// identity for every outbound call (host storage, state table, Log Analytics, the playbook's
// trigger, Application Insights). No connection string, key or signed URL is configured anywhere.

@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the function app.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the plan and the app (the app also gets azd-service-name).')
param tags object

@description('Value of the azd-service-name tag: the service name in azure.yaml.')
param serviceName string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

@description('Blob endpoint of the storage account (with trailing slash).')
param blobEndpoint string

@description('Queue endpoint of the storage account.')
param queueEndpoint string

@description('Table endpoint of the storage account.')
param tableEndpoint string

@description('Container the deployment package is uploaded to.')
param deploymentContainerName string

@description('Name of the Application Insights component (same resource group) the app logs to.')
param applicationInsightsName string

// The settings the detection reads: every "infra" entry of functions/config/settings.ts and no
// other (test/infra checks both directions against the compiled template).

@description('LOG_ANALYTICS_WORKSPACE_ID: customer id (GUID) of the Sentinel workspace.')
param logAnalyticsWorkspaceId string

@description('LOG_ANALYTICS_ENDPOINT: Log Analytics query API base URL.')
param logAnalyticsEndpoint string

@description('LOOKBACK: ISO 8601 duration of the query span.')
param lookback string

@description('INGESTION_SETTLE: ISO 8601 margin before now that a window stops at.')
param ingestionSettle string

@description('CATCHUP_SCHEDULE: ISO 8601 interval of the catch-up pass over the whole lookback.')
param catchupSchedule string = 'PT1H'

@description('DETECTION_SCHEDULE: six-field NCRONTAB schedule of the timer.')
param detectionSchedule string

@description('INCIDENT_GROUPING: device, run or event.')
param incidentGrouping string

@description('STATE_TABLE_NAME: the state table.')
param stateTableName string

@description('Subnet (delegated to Microsoft.App/environments) the app integrates with; empty: no virtual network.')
param virtualNetworkSubnetId string = ''

@description('PLAYBOOK_URL: the playbook trigger\'s invoke URL, without a SAS signature.')
param playbookUrl string

@description('PLAYBOOK_TOKEN_AUDIENCE: the audience the playbook\'s authorization policy names.')
param playbookTokenAudience string

@description('EXCLUSIONS: the exclusions document (JSON or YAML); empty: none.')
param exclusions string = ''

@description('EXCLUSIONS_WATCHLIST: alias of the Sentinel watchlist of exclusions.')
param exclusionsWatchlist string

// The range Flex Consumption accepts for functionAppConfig.scaleAndConcurrency.maximumInstanceCount,
// as its docs state (learn.microsoft.com/azure/azure-functions/flex-consumption-plan): 40 to 1000.
@description('Upper bound on instances; a timer trigger runs on one, this only caps runaway scale.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Flex Consumption's virtual network integration: all outbound traffic goes through the
    // subnet, so storage's private endpoints resolve and answer (Microsoft.Web/sites 2025-03-01
    // virtualNetworkSubnetId; learn.microsoft.com/azure/azure-functions/flex-consumption-how-to,
    // "Enable virtual network integration").
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      // No ftpsState: Flex Consumption has no FTP, and ARM rejects the property on Flex sites
      // (error 51021). FTP and SCM basic-auth publishing are turned off below instead.
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      appSettings: [
        // Platform: host storage through the identity instead of a connection string.
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: blobEndpoint
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: queueEndpoint
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: tableEndpoint
        }
        // Platform: the detection queue's connection (functions/fanout/queues.ts QUEUE_CONNECTION):
        // the queue trigger and the tick reach it as the identity, no connection string
        // (functions-storage-queue-connections, "Identity-based connections": __queueServiceUri;
        // functions-reference, "Common properties for identity-based connections": __credential
        // managedidentity and __clientId for a user-assigned identity).
        {
          name: 'DETECTION_QUEUE__queueServiceUri'
          value: queueEndpoint
        }
        {
          name: 'DETECTION_QUEUE__credential'
          value: 'managedidentity'
        }
        {
          name: 'DETECTION_QUEUE__clientId'
          value: identityClientId
        }
        // Platform: App Insights has local auth disabled, so telemetry is sent with an Entra token.
        {
          // Not a secret: the ingestion endpoint and the component's key id. With local auth off,
          // ingestion also needs an Entra token of an identity holding the publisher role.
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        // Detection settings (functions/config/settings.ts). No FUNCTIONS_WORKER_RUNTIME or
        // FUNCTIONS_EXTENSION_VERSION: Flex Consumption takes the runtime from functionAppConfig.
        {
          name: 'LOG_ANALYTICS_WORKSPACE_ID'
          value: logAnalyticsWorkspaceId
        }
        {
          name: 'LOG_ANALYTICS_ENDPOINT'
          value: logAnalyticsEndpoint
        }
        {
          name: 'LOOKBACK'
          value: lookback
        }
        {
          name: 'INGESTION_SETTLE'
          value: ingestionSettle
        }
        {
          name: 'DETECTION_SCHEDULE'
          value: detectionSchedule
        }
        {
          // Runs within the scheduled run that falls due, never as a second, colliding timer.
          name: 'CATCHUP_SCHEDULE'
          value: catchupSchedule
        }
        {
          name: 'INCIDENT_GROUPING'
          value: incidentGrouping
        }
        {
          // The table endpoint without its trailing slash, as the setting's example shows.
          name: 'STATE_TABLE_ENDPOINT'
          value: endsWith(tableEndpoint, '/')
            ? substring(tableEndpoint, 0, max(length(tableEndpoint) - 1, 0))
            : tableEndpoint
        }
        {
          name: 'STATE_TABLE_NAME'
          value: stateTableName
        }
        {
          // Not a secret: without the identity's token the trigger starts nothing.
          name: 'PLAYBOOK_URL'
          value: playbookUrl
        }
        {
          name: 'PLAYBOOK_TOKEN_AUDIENCE'
          value: playbookTokenAudience
        }
        {
          // Empty reads as unset: no inline exclusions.
          name: 'EXCLUSIONS'
          value: exclusions
        }
        {
          name: 'EXCLUSIONS_WATCHLIST'
          value: exclusionsWatchlist
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// Basic-auth publishing (FTP and SCM) off: deployments go through Entra-authenticated azd.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
