// The playbook the detection posts incidents to. It ingests the payload's alert rows (one per
// event, built by functions/incidents/alertRows.ts) into the custom table through the Logs
// Ingestion API; Sentinel's analytics rule over that table (sentinel-rule.bicep) turns them into
// alerts with entities, grouped into one incident per IncidentKey. The playbook writes nothing
// to Sentinel itself, so it needs no Sentinel role: only the right to ingest through its DCR.
//
// It answers 200 only when the Logs Ingestion API accepted the rows (204); 400 or 413 when the API
// refused them for good (the function parks the incident as rejected); 502 otherwise, so the
// function keeps the incident in its outbox and posts it again. A redelivery ingests the rows
// again; the analytics rule drops rows whose EventKey it has already seen (see its query).

@description('Name of the Logic App (Consumption) workflow.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the workflow.')
param tags object

@description('Logs ingestion endpoint of the alert table\'s DCR (properties.endpoints.logsIngestion).')
param logsIngestionEndpoint string

@description('Immutable id of the alert table\'s DCR.')
param dataCollectionRuleImmutableId string

@description('Input stream of the DCR: Custom-<table>.')
param streamName string

@description('Resource id of the Log Analytics workspace the run history (WorkflowRuntime) goes to.')
param diagnosticsWorkspaceId string

@description('Token audience of the Logs Ingestion API: https://monitor.azure.com in the public cloud, https://monitor.azure.us in Azure Government, https://monitor.azure.cn in Azure China.')
param monitorAudience string = 'https://monitor.azure.com'

// Logs Ingestion API "Upload": POST {endpoint}/dataCollectionRules/{immutableId}/streams/{stream}
// with a JSON array body; 204 when accepted (learn.microsoft.com/azure/azure-monitor/logs/
// logs-ingestion-api-overview, REST spec Azure/azure-rest-api-specs
// specification/monitor/data-plane/ingestion/stable/2023-01-01).
var ingestionApiVersion = '2023-01-01'
var uploadUri = '${logsIngestionEndpoint}/dataCollectionRules/${dataCollectionRuleImmutableId}/streams/${streamName}?api-version=${ingestionApiVersion}'

// Time budget. One delivery must be answered within the function's PLAYBOOK_TIMEOUT (30 s by
// default) and the Request trigger's 120 s response window; otherwise the function gives up and
// posts again while this run is still going, and two deliveries of one incident overlap. The
// upload is retried once (Logic Apps retries 408, 429 and 5xx) after 5 s, each attempt bounded to
// 10 s: at most 2 x 10 + 5 = 25 s even if the bound applies per attempt. Later retries are the
// function's (its outbox), not ours.
var uploadRetryPolicy = {
  type: 'fixed'
  count: 1
  interval: 'PT5S'
}
var uploadAttemptTimeout = 'PT10S'

// The answer to a permanent refusal: the API's own error (code and message) goes back to the
// function, which stores it in the incident's outbox row.
var rejectedBody = {
  incidentId: '@triggerBody()?[\'incidentId\']'
  runId: '@workflow()?[\'run\']?[\'name\']'
  ingestionStatus: '@actions(\'Ingest_alert_rows\')?[\'outputs\']?[\'statusCode\']'
  ingestionError: '@actions(\'Ingest_alert_rows\')?[\'outputs\']?[\'body\']?[\'error\']'
  error: 'The Logs Ingestion API refused the alert rows; posting them again cannot succeed.'
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
        Ingest_alert_rows: {
          type: 'Http'
          runAfter: {}
          inputs: {
            method: 'POST'
            uri: uploadUri
            headers: {
              'Content-Type': 'application/json'
              // Shows in the ingestion's own diagnostics next to the incident it carried.
              'x-ms-client-request-id': '@{triggerBody()?[\'incidentId\']}'
            }
            body: '@triggerBody()?[\'alertRows\']'
            authentication: {
              type: 'ManagedServiceIdentity'
              audience: monitorAudience
            }
            retryPolicy: uploadRetryPolicy
          }
          limit: {
            timeout: uploadAttemptTimeout
          }
        }
        Respond_ingested: {
          type: 'Response'
          kind: 'Http'
          runAfter: {
            Ingest_alert_rows: [
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
              rows: '@length(triggerBody()?[\'alertRows\'])'
              runId: '@workflow()?[\'run\']?[\'name\']'
            }
          }
        }
        // What the function does next depends on the status it gets (functions/delivery/
        // playbookClient.ts): 2xx delivered; 408, 429 and 5xx kept in the outbox and posted
        // again; any other 4xx parked as rejected for a human, never retried.
        // The Logs Ingestion API's 400 (the rows do not match the stream's columns) and 413 (the
        // call is over its 1 MB limit) are permanent: posting the same rows again gets the same
        // answer (learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview,
        // "Limits and restrictions" and the Upload error codes). They are passed back as they
        // are, with the API's own error, so the function parks the incident as rejected with that
        // text. Everything else (403 while a role assignment propagates, 408, 429, 5xx, a
        // timeout) is answered 502, which the function retries on its next run.
        Classify_failure: {
          type: 'If'
          runAfter: {
            Ingest_alert_rows: [
              'Failed'
              'TimedOut'
              'Skipped'
            ]
          }
          expression: '@equals(actions(\'Ingest_alert_rows\')?[\'outputs\']?[\'statusCode\'], 413)'
          actions: {
            Respond_too_large: {
              type: 'Response'
              kind: 'Http'
              runAfter: {}
              inputs: {
                statusCode: 413
                headers: {
                  'Content-Type': 'application/json'
                }
                body: rejectedBody
              }
            }
          }
          else: {
            actions: {
              Classify_refused: {
                type: 'If'
                runAfter: {}
                expression: '@equals(actions(\'Ingest_alert_rows\')?[\'outputs\']?[\'statusCode\'], 400)'
                actions: {
                  Respond_refused: {
                    type: 'Response'
                    kind: 'Http'
                    runAfter: {}
                    inputs: {
                      statusCode: 400
                      headers: {
                        'Content-Type': 'application/json'
                      }
                      body: rejectedBody
                    }
                  }
                }
                else: {
                  actions: {
                    // 502: the delivery failed for a reason that may pass; the function keeps
                    // the incident in its outbox and posts it again later.
                    Respond_failed: {
                      type: 'Response'
                      kind: 'Http'
                      runAfter: {}
                      inputs: {
                        statusCode: 502
                        headers: {
                          'Content-Type': 'application/json'
                        }
                        body: {
                          incidentId: '@triggerBody()?[\'incidentId\']'
                          runId: '@workflow()?[\'run\']?[\'name\']'
                          ingestionStatus: '@actions(\'Ingest_alert_rows\')?[\'outputs\']?[\'statusCode\']'
                          error: 'The Logs Ingestion API did not accept the alert rows; see this run in the Logic App run history.'
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
        // Keeps the run marked Failed in the run history after the answer was sent.
        Mark_run_failed: {
          type: 'Terminate'
          runAfter: {
            Classify_failure: [
              'Succeeded'
            ]
          }
          inputs: {
            runStatus: 'Failed'
            runError: {
              code: 'AlertRowsNotIngested'
              message: 'The Logs Ingestion API did not accept the alert rows.'
            }
          }
        }
      }
      outputs: {}
    }
  }
}

// Run history (trigger, action and run events) to the monitoring workspace, so a failed delivery
// can be found with a query. WorkflowRuntime is the Logic Apps (Consumption) log category
// (learn.microsoft.com/azure/logic-apps/monitor-workflows-collect-diagnostic-data).
// 2021-05-01-preview is the newest api-version of Microsoft.Insights/diagnosticSettings in the
// Bicep type index (Azure/bicep-types-az); the linter only accepts the old 2016-09-01, a
// different shape.
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

output name string = playbook.name
output principalId string = playbook.identity.principalId
