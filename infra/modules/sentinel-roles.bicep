// Deployed into the Sentinel workspace's resource group: what each playbook identity may do there,
// and nothing more. Each grant names its holder's job.

@description('Name of the alert table\'s data collection rule.')
param dataCollectionRuleName string

@description('Principal id of the ingest playbook\'s identity: sends alert rows through the DCR.')
param ingestPlaybookPrincipalId string

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
