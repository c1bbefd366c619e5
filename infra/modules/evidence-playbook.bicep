// The incident-trigger playbook the automation rule runs on every incident of the analytics rule:
// it reads the incident's evidence comment from the alert table and adds it to the incident.
//
// The incident's alerts carry the custom detail IncidentKey; the alert records (SecurityAlert)
// hold it in ExtendedProperties["Custom Details"], and the table's first row of that IncidentKey
// holds the evidence comment the detection wrote. The query is repeated in a bounded loop, because
// the alert records reach SecurityAlert some minutes after the incident is created.

@description('Name of the Logic App (Consumption) workflow.')
param name string

@description('Name of the Microsoft Sentinel API connection.')
param connectionName string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Customer id (GUID) of the Sentinel workspace: the query API addresses it by this.')
param workspaceCustomerId string

@description('Log Analytics query API base URL (as LOG_ANALYTICS_ENDPOINT), e.g. https://api.loganalytics.io/v1.')
param logAnalyticsEndpoint string

@description('Token audience of the query API: https://api.loganalytics.io in the public cloud.')
param logAnalyticsAudience string = 'https://api.loganalytics.io'

@description('Name of the alert table.')
param alertTableName string

@description('Resource id of the Log Analytics workspace the run history (WorkflowRuntime) goes to.')
param diagnosticsWorkspaceId string

@description('Object id of the "Azure Security Insights" service principal (appId 98785600-1bb7-4fb9-b9fa-19afe2c8a360) in this tenant; empty: its role is assigned by hand.')
param securityInsightsPrincipalId string = ''

// Microsoft Sentinel Automation Contributor: lets Sentinel's automation (the Azure Security
// Insights app) run the playbooks of this resource group from automation rules, and nothing else.
// Sentinel checks it on the playbook's resource group, before the automation rule is created
// (learn.microsoft.com/azure/sentinel/automate-responses-with-playbooks#permissions).
var automationContributorRoleId = 'f4c81013-99ee-4d62-a7ee-b3f1f648599a'

// The bounded wait for the alert records (Until_evidence_found): rounds of one minute's wait and
// one read, and a cap on the whole loop.
var evidenceRounds = 15
var evidenceTimeout = 'PT20M'

// Managed API id of the Microsoft Sentinel connector in this region.
var sentinelApiId = subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'azuresentinel')

// The evidence comment of the incident's IncidentKey; @{...} is filled by the workflow with the
// incident's alert ids (a JSON array). The KQL is checked by test/infra/sentinel.test.ts.
var evidenceQuery = 'let alertIds = dynamic(@{string(body(\'Alert_ids\'))});\nSecurityAlert\n| where SystemAlertId in (alertIds)\n| extend IncidentKey = tostring(parse_json(tostring(parse_json(ExtendedProperties)["Custom Details"])).IncidentKey[0])\n| where isnotempty(IncidentKey)\n| distinct IncidentKey\n| join kind=inner (${alertTableName} | where EventIndex == 1 and isnotempty(EvidenceComment)) on IncidentKey\n| summarize arg_max(TimeGenerated, EvidenceComment) by IncidentKey\n| project EvidenceComment\n| take 1'

// The Microsoft Sentinel connector, authenticating as the workflow's managed identity: a V1
// connection with parameterValueType Alternative and no credentials of its own (Azure/Azure-Sentinel
// playbook templates; learn.microsoft.com/azure/logic-apps/authenticate-with-managed-identity).
// The Web/connections type index lacks kind and parameterValueType, hence the suppressions.
resource sentinelConnection 'Microsoft.Web/connections@2016-06-01' = {
  name: connectionName
  location: location
  tags: tags
  #disable-next-line BCP187
  kind: 'V1'
  properties: {
    displayName: connectionName
    api: {
      id: sentinelApiId
    }
    #disable-next-line BCP037
    parameterValueType: 'Alternative'
  }
}

resource playbook 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    parameters: {
      '$connections': {
        value: {
          azuresentinel: {
            connectionId: sentinelConnection.id
            connectionName: sentinelConnection.name
            id: sentinelApiId
            connectionProperties: {
              authentication: {
                type: 'ManagedServiceIdentity'
              }
            }
          }
        }
      }
    }
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {
        '$connections': {
          type: 'Object'
          defaultValue: {}
        }
      }
      triggers: {
        // "Microsoft Sentinel incident" trigger: what automation rules run.
        Microsoft_Sentinel_incident: {
          type: 'ApiConnectionWebhook'
          inputs: {
            host: {
              connection: {
                name: '@parameters(\'$connections\')[\'azuresentinel\'][\'connectionId\']'
              }
            }
            body: {
              callback_url: '@{listCallbackUrl()}'
            }
            path: '/incident-creation'
          }
        }
      }
      actions: {
        Alert_ids: {
          type: 'Select'
          runAfter: {}
          inputs: {
            from: '@triggerBody()?[\'object\']?[\'properties\']?[\'Alerts\']'
            select: '@item()?[\'properties\']?[\'systemAlertId\']'
          }
        }
        // What was found so far; empty until a read returns the evidence row.
        Initialize_evidence: {
          type: 'InitializeVariable'
          runAfter: {
            Alert_ids: [
              'Succeeded'
            ]
          }
          inputs: {
            variables: [
              {
                name: 'evidence'
                type: 'string'
                value: ''
              }
            ]
          }
        }
        // The alert records reach SecurityAlert some minutes after the incident, and how long is
        // not documented (Sentinel ingestion can lag). So: wait a minute, read, and again, until
        // the evidence is found or the limit: 15 rounds (about 15 minutes of waiting), never
        // more than 20 minutes. Until runs its actions, then tests the expression, and stops at
        // whichever of count and timeout comes first ("Until action", Schema reference for
        // trigger and action types, learn.microsoft.com/azure/logic-apps/logic-apps-workflow-actions-triggers).
        Until_evidence_found: {
          type: 'Until'
          runAfter: {
            Initialize_evidence: [
              'Succeeded'
            ]
          }
          expression: '@not(empty(variables(\'evidence\')))'
          limit: {
            count: evidenceRounds
            timeout: evidenceTimeout
          }
          actions: {
            Wait_for_alert_records: {
              type: 'Wait'
              runAfter: {}
              inputs: {
                interval: {
                  count: 1
                  unit: 'Minute'
                }
              }
            }
            Read_evidence: {
              type: 'Http'
              runAfter: {
                Wait_for_alert_records: [
                  'Succeeded'
                ]
              }
              inputs: {
                method: 'POST'
                uri: '${logAnalyticsEndpoint}/workspaces/${workspaceCustomerId}/query'
                headers: {
                  'Content-Type': 'application/json'
                }
                body: {
                  query: evidenceQuery
                  timespan: 'P7D'
                }
                authentication: {
                  type: 'ManagedServiceIdentity'
                  audience: logAnalyticsAudience
                }
                retryPolicy: {
                  type: 'exponential'
                  count: 4
                  interval: 'PT10S'
                }
              }
            }
            Keep_evidence: {
              type: 'SetVariable'
              runAfter: {
                Read_evidence: [
                  'Succeeded'
                ]
              }
              inputs: {
                name: 'evidence'
                value: '@{coalesce(body(\'Read_evidence\')?[\'tables\']?[0]?[\'rows\']?[0]?[0], \'\')}'
              }
            }
          }
        }
        // Whatever the loop ended with (found, limit reached, a read that kept failing), the
        // incident gets a comment: the evidence, or where to look for it.
        Add_evidence_comment: {
          type: 'ApiConnection'
          runAfter: {
            Until_evidence_found: [
              'Succeeded'
              'Failed'
              'TimedOut'
            ]
          }
          inputs: {
            host: {
              connection: {
                name: '@parameters(\'$connections\')[\'azuresentinel\'][\'connectionId\']'
              }
            }
            method: 'post'
            path: '/Incidents/Comment'
            body: {
              incidentArmId: '@triggerBody()?[\'object\']?[\'id\']'
              message: '@{if(empty(variables(\'evidence\')), \'nbtscan-detector: no evidence row was found for this incident in ${alertTableName}; query it by the IncidentKey custom detail.\', variables(\'evidence\'))}'
            }
          }
        }
      }
      outputs: {}
    }
  }
}

// Run history to the monitoring workspace, as for the ingest playbook.
#disable-next-line use-recent-api-versions
resource runHistory 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'workflow-runtime'
  scope: playbook
  properties: {
    workspaceId: diagnosticsWorkspaceId
    logs: [
      {
        category: 'WorkflowRuntime'
        enabled: true
      }
    ]
  }
}

resource sentinelRunsPlaybooks 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(securityInsightsPrincipalId)) {
  name: guid(resourceGroup().id, securityInsightsPrincipalId, automationContributorRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      automationContributorRoleId
    )
    principalId: securityInsightsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output id string = playbook.id
output name string = playbook.name
output principalId string = playbook.identity.principalId
// Whether Sentinel may run the playbooks here; without it the automation rule only labels.
output sentinelMayRunPlaybooks bool = !empty(securityInsightsPrincipalId)
