// The playbook the detection posts incidents to. It turns one payload (infra/incident.schema.json)
// into one Sentinel incident plus one evidence comment, both addressed by ids derived from the
// payload's incidentId. The function redelivers an incident whose post failed (a 502, a timeout),
// possibly after the incident was created and an analyst changed its status, severity or owner:
// so the playbook reads the incident first and creates it only when Sentinel answers 404. An
// existing incident is left as it is; only the evidence comment is rewritten.

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
// The payload's deterministic id addresses the incident in every call.
var incidentUri = '${incidentsUri}/@{encodeUriComponent(triggerBody()?[\'incidentId\'])}?${apiVersionQuery}'

var managedIdentityAuth = {
  type: 'ManagedServiceIdentity'
  audience: environment().resourceManager
}

// Sentinel answers 429 and 5xx under load; Logic Apps retries those (and 408) with this policy. A
// 404 is not retried: it fails the action at once, with the status code in its outputs.
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
        // A GET that finds nothing fails with 404 (Logic Apps fails an HTTP action on any 4xx or
        // 5xx); that failure is the signal to create the incident, so it sits outside any scope
        // whose status decides the answer.
        Get_incident: {
          type: 'Http'
          runAfter: {}
          inputs: {
            method: 'GET'
            uri: incidentUri
            authentication: managedIdentityAuth
            retryPolicy: retryPolicy
          }
        }
        // Runs after every outcome of the GET except success, so it is skipped exactly when the
        // incident already exists.
        Create_if_missing: {
          type: 'If'
          runAfter: {
            Get_incident: [
              'Failed'
              'TimedOut'
            ]
          }
          // actions() rather than outputs(): a timed-out GET may have no outputs at all.
          expression: '@equals(actions(\'Get_incident\')?[\'outputs\']?[\'statusCode\'], 404)'
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
            // The only write of the incident itself: it happens once, when Sentinel had no
            // incident under this id, so it never resets what an analyst changed.
            Put_incident: {
              type: 'Http'
              runAfter: {
                Select_labels: [
                  'Succeeded'
                ]
              }
              inputs: {
                method: 'PUT'
                uri: incidentUri
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
          }
          // The GET failed otherwise (403, 5xx after the retries, a timeout): whether the
          // incident exists is unknown, so read it once more. This branch fails, and the run
          // answers 502, unless the incident can be read; nothing is written either way.
          else: {
            actions: {
              Confirm_incident: {
                type: 'Http'
                runAfter: {}
                inputs: {
                  method: 'GET'
                  uri: incidentUri
                  authentication: managedIdentityAuth
                  retryPolicy: retryPolicy
                }
              }
            }
          }
        }
        // Reached when the incident exists: the GET found it (Create_if_missing skipped), or it was
        // created or confirmed (Create_if_missing succeeded).
        Put_evidence_comment: {
          type: 'Http'
          runAfter: {
            Create_if_missing: [
              'Succeeded'
              'Skipped'
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
        Respond_created: {
          type: 'Response'
          kind: 'Http'
          runAfter: {
            Put_evidence_comment: [
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
        // and retries. The retry is safe: it reads the incident before writing anything.
        // Skipped covers every failure before the comment (the create or confirm step failed).
        Respond_failed: {
          type: 'Response'
          kind: 'Http'
          runAfter: {
            Put_evidence_comment: [
              'Failed'
              'TimedOut'
              'Skipped'
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
              error: 'The playbook could not read or create the Sentinel incident, or write its evidence comment; see this run in the Logic App run history.'
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
              message: 'Reading or creating the Sentinel incident, or writing its evidence comment, failed.'
            }
          }
        }
      }
      outputs: {}
    }
  }
}

output name string = playbook.name
output principalId string = playbook.identity.principalId
