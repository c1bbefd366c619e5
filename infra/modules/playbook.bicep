// The playbook the detection posts incidents to. It turns one payload (infra/incident.schema.json)
// into one Sentinel incident plus one evidence comment, both addressed by ids derived from the
// payload's incidentId so a redelivery overwrites instead of duplicating.

@description('Name of the Logic App (Consumption) workflow.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the workflow.')
param tags object

@description('Resource id of the Sentinel-enabled Log Analytics workspace incidents are created in.')
param sentinelWorkspaceResourceId string

// Latest stable Microsoft.SecurityInsights version in the Bicep type index (2025-09-01).
var securityInsightsApiVersion = '2025-09-01'

// ARM endpoint of the cloud this is deployed to, without its trailing slash so a resource id can
// be appended. Sovereign clouds get their own endpoint and token audience.
var armEndpoint = endsWith(environment().resourceManager, '/')
  ? substring(environment().resourceManager, 0, max(length(environment().resourceManager) - 1, 0))
  : environment().resourceManager
var incidentsUri = '${armEndpoint}${sentinelWorkspaceResourceId}/providers/Microsoft.SecurityInsights/incidents'
var apiVersionQuery = 'api-version=${securityInsightsApiVersion}'

var managedIdentityAuth = {
  type: 'ManagedServiceIdentity'
  audience: environment().resourceManager
}

// Sentinel answers 429 and 5xx under load; Logic Apps retries those (and 408) with this policy.
var retryPolicy = {
  type: 'exponential'
  count: 4
  interval: 'PT10S'
  minimumInterval: 'PT5S'
  maximumInterval: 'PT1M'
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
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {}
      triggers: {
        manual: {
          type: 'Request'
          kind: 'Http'
          inputs: {
            method: 'POST'
            // The same file the function's tests validate every payload against.
            schema: loadJsonContent('../incident.schema.json')
          }
        }
      }
      actions: {
        Create_in_Sentinel: {
          type: 'Scope'
          runAfter: {}
          actions: {
            Select_labels: {
              type: 'Select'
              runAfter: {}
              inputs: {
                from: '@union(createArray(\'nbtscan-detector\'), triggerBody()?[\'tactics\'], triggerBody()?[\'techniques\'])'
                select: {
                  labelName: '@item()'
                }
              }
            }
            Put_incident: {
              type: 'Http'
              runAfter: {
                Select_labels: [
                  'Succeeded'
                ]
              }
              inputs: {
                method: 'PUT'
                // PUT on the payload's deterministic id: a repeated delivery updates the same incident.
                uri: '${incidentsUri}/@{encodeUriComponent(triggerBody()?[\'incidentId\'])}?${apiVersionQuery}'
                headers: {
                  'Content-Type': 'application/json'
                }
                body: {
                  properties: {
                    title: '@triggerBody()?[\'title\']'
                    description: '@triggerBody()?[\'description\']'
                    severity: '@triggerBody()?[\'severity\']'
                    status: '@triggerBody()?[\'status\']'
                    firstActivityTimeUtc: '@triggerBody()?[\'firstActivityTimeUtc\']'
                    lastActivityTimeUtc: '@triggerBody()?[\'lastActivityTimeUtc\']'
                    labels: '@body(\'Select_labels\')'
                  }
                }
                authentication: managedIdentityAuth
                retryPolicy: retryPolicy
              }
            }
            Put_evidence_comment: {
              type: 'Http'
              runAfter: {
                Put_incident: [
                  'Succeeded'
                ]
              }
              inputs: {
                method: 'PUT'
                // One evidence comment per incident, so the incident id doubles as the comment id:
                // deterministic (the workflow language has no seeded guid()) and a redelivery
                // rewrites the comment instead of adding another.
                uri: '${incidentsUri}/@{encodeUriComponent(triggerBody()?[\'incidentId\'])}/comments/@{encodeUriComponent(triggerBody()?[\'incidentId\'])}?${apiVersionQuery}'
                headers: {
                  'Content-Type': 'application/json'
                }
                body: {
                  properties: {
                    message: '@coalesce(triggerBody()?[\'evidenceComment\'], triggerBody()?[\'description\'])'
                  }
                }
                authentication: managedIdentityAuth
                retryPolicy: retryPolicy
              }
            }
          }
        }
        Respond_created: {
          type: 'Response'
          kind: 'Http'
          runAfter: {
            Create_in_Sentinel: [
              'Succeeded'
            ]
          }
          inputs: {
            statusCode: 200
            headers: {
              'Content-Type': 'application/json'
            }
            body: {
              incidentId: '@triggerBody()?[\'incidentId\']'
              runId: '@workflow()?[\'run\']?[\'name\']'
            }
          }
        }
        // 502 tells the function the delivery failed, so it keeps the incident in its outbox
        // and retries; both PUTs are idempotent, so the retry is safe.
        Respond_failed: {
          type: 'Response'
          kind: 'Http'
          runAfter: {
            Create_in_Sentinel: [
              'Failed'
              'TimedOut'
            ]
          }
          inputs: {
            statusCode: 502
            headers: {
              'Content-Type': 'application/json'
            }
            body: {
              incidentId: '@triggerBody()?[\'incidentId\']'
              runId: '@workflow()?[\'run\']?[\'name\']'
              error: 'The playbook could not create the Sentinel incident; see this run in the Logic App run history.'
            }
          }
        }
        // Keeps the run marked Failed in the run history after the 502 was sent.
        Mark_run_failed: {
          type: 'Terminate'
          runAfter: {
            Respond_failed: [
              'Succeeded'
            ]
          }
          inputs: {
            runStatus: 'Failed'
            runError: {
              code: 'SentinelIncidentNotCreated'
              message: 'Creating the Sentinel incident or its evidence comment failed.'
            }
          }
        }
      }
      outputs: {}
    }
  }
}

output name string = playbook.name
output id string = playbook.id
output principalId string = playbook.identity.principalId
