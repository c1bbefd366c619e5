// Deployed into the Sentinel workspace's resource group: the custom table the playbook writes
// alert rows to, and the data collection rule (DCR) the Logs Ingestion API accepts them through.
// Both read their columns from infra/alert-table.json, the file the function's rows are checked
// against, so the table, the DCR's stream and the rows cannot drift apart.

@description('Name of the existing Sentinel-enabled Log Analytics workspace.')
param workspaceName string

@description('Region of the workspace: a Direct DCR must be in its workspace\'s region, not the deployment\'s.')
param workspaceLocation string

@description('Name of the data collection rule.')
param dataCollectionRuleName string

@description('Tags applied to the data collection rule.')
param tags object

var alertTable = loadJsonContent('../alert-table.json')
// Logs Ingestion API convention: a custom table's input stream is named Custom-<table>.
var streamName = 'Custom-${alertTable.name}'
// The DCR's transformation sets TimeGenerated to the ingestion time, so the rule's look-back
// always sees a new row, however old its event (the rows carry EventTime). now() is supported in
// transformations (learn.microsoft.com/azure/azure-monitor/data-collection/
// data-collection-transformations-kql).
var transformKql = 'source | extend TimeGenerated = now()'

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: workspaceName
}

// Analytics plan: scheduled analytics rules can query it (Basic and Auxiliary tables cannot).
// The columns are the file's as they are: name and type, with the DCR's type names, which
// "Tables - Create Or Update" (learn.microsoft.com/rest/api/loganalytics/tables, 2025-07-01)
// accepts in any casing ('datetime' as well as 'dateTime').
resource table 'Microsoft.OperationalInsights/workspaces/tables@2025-07-01' = {
  parent: workspace
  name: alertTable.name
  properties: {
    plan: 'Analytics'
    schema: {
      name: alertTable.name
      description: alertTable.description
      columns: alertTable.columns
    }
  }
}

// kind Direct: the DCR has its own logs-ingestion endpoint (properties.endpoints.logsIngestion,
// api-version 2023-03-11 or later), so no data collection endpoint is needed. It must be in the
// workspace's region, and the table must exist first (ARM rejects a DCR naming a missing table):
// learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview.
resource dataCollectionRule 'Microsoft.Insights/dataCollectionRules@2024-03-11' = {
  name: dataCollectionRuleName
  location: workspaceLocation
  tags: tags
  kind: 'Direct'
  properties: {
    description: 'nbtscan-detector alert rows into ${alertTable.name}'
    streamDeclarations: {
      '${streamName}': {
        // The table's columns: the rows carry all but TimeGenerated, which the transformation
        // sets (a declared column the data lacks is null in `source`).
        columns: alertTable.columns
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: 'sentinelWorkspace'
          workspaceResourceId: workspace.id
        }
      ]
    }
    dataFlows: [
      {
        streams: [streamName]
        destinations: ['sentinelWorkspace']
        transformKql: transformKql
        outputStream: streamName
      }
    ]
  }
  dependsOn: [table]
}

output tableName string = table.name
output streamName string = streamName
output dataCollectionRuleName string = dataCollectionRule.name
output dataCollectionRuleImmutableId string = dataCollectionRule.properties.immutableId
output logsIngestionEndpoint string = dataCollectionRule.properties.endpoints.logsIngestion
