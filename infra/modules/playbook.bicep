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

@description('Client id of the only identity allowed to call the trigger: the function\'s user-assigned managed identity.')
param callerClientId string

// Microsoft's examples of a Logic Apps authorization policy use Azure Resource Manager's audience
// (logic-apps-securing-a-logic-app.md, "Considerations before you enable Microsoft Entra ID
// OAuth"). The function asks for a token with scope '<audience>/.default'; a managed identity
// then asks Entra for the audience itself as its resource, and a v1 token's aud is that resource
// as asked for, trailing slash included, so the policy below and PLAYBOOK_TOKEN_AUDIENCE carry the
// same string.
@description('Audience (aud claim) of the token the trigger accepts; the function asks for it (PLAYBOOK_TOKEN_AUDIENCE).')
param callerAudience string = environment().resourceManager

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

// Who may start the playbook: only the function's managed identity, with an Entra ID token.
// - The authorization policy (properties.accessControl.triggers.openAuthenticationPolicies, REST
//   spec specification/logic/resource-manager/Microsoft.Logic/stable/2019-05-01/logic.json,
//   OpenAuthenticationAccessPolicies): type AAD, and every claim must match; the policy must name
//   at least iss, starting https://sts.windows.net/ (logic-apps-securing-a-logic-app.md, "Enable
//   Microsoft Entra ID OAuth for your Consumption logic app resource"). A managed identity's v1
//   token carries its client id as appid (learn.microsoft.com/entra/identity-platform/
//   access-token-claims-reference). Limits: at most 5 policies, 10 claims each, 150 characters per
//   claim value (logic-apps-limits-and-config.md#authentication-limits); one policy of 3 claims.
// - A policy alone does not turn the SAS signature off ("using one scheme doesn't disable the
//   other scheme"; Azure/logicapps#809). The documented way to make OAuth the only option on
//   Consumption: the trigger includes the Authorization header in its outputs
//   (operationOptions IncludeAuthorizationHeadersInOutputs) and its condition requires a bearer
//   token (logic-apps-securing-a-logic-app.md, "Enable Microsoft Entra ID OAuth as the only option
//   to call a request endpoint"): a SAS-only call is then Skipped, no run, no ingestion.
var callerPolicy = {
  type: 'AAD'
  claims: [
    {
      name: 'iss'
      value: 'https://sts.windows.net/${tenant().tenantId}/'
    }
    {
      name: 'aud'
      value: callerAudience
    }
    {
      name: 'appid'
      value: callerClientId
    }
  ]
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
    accessControl: {
      triggers: {
        openAuthenticationPolicies: {
          policies: {
            'detection-function': callerPolicy
          }
        }
      }
    }
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
          // EnableSchemaValidation: a body that breaks the schema gets 400 from the trigger itself
          // and starts no run (connectors-native-reqres.md, "Schema Validation").
          // IncludeAuthorizationHeadersInOutputs: the condition below can see the token's scheme.
          // operationOptions is one string of comma-separated flags, as the workflow definition
          // language writes several (e.g. "DisableAsyncPattern, SuppressWorkflowHeaders" in
          // logic-apps-workflow-actions-triggers.md#operation-options).
          operationOptions: 'EnableSchemaValidation, IncludeAuthorizationHeadersInOutputs'
          conditions: [
            {
              expression: '@startsWith(triggerOutputs()?[\'headers\']?[\'Authorization\'], \'Bearer\')'
            }
          ]
          // The header (a live token) would otherwise sit in the run history and the
          // WorkflowRuntime logs: secure outputs hide the trigger's outputs from both
          // (logic-apps-securing-a-logic-app.md#secure-data-code-view).
          runtimeConfiguration: {
            secureData: {
              properties: [
                'outputs'
              ]
            }
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

resource trigger 'Microsoft.Logic/workflows/triggers@2019-05-01' existing = {
  parent: playbook
  name: 'manual'
}

// The URL the function posts to: the trigger's invoke URL WITHOUT sp, sv and sig. Taken from
// listCallbackUrl's basePath (…/triggers/manual/paths/invoke) and its api-version query
// (WorkflowTriggerCallbackUrl and WorkflowTriggerListCallbackUrlQueries, logic.json 2019-05-01);
// the signature is never read, so this is no secret: it grants nothing without the identity's
// token.
#disable-next-line outputs-should-not-contain-secrets
output invokeUrl string = '${trigger.listCallbackUrl().basePath}?api-version=${trigger.listCallbackUrl().queries['api-version']}'
output callerAudience string = callerAudience
output name string = playbook.name
output principalId string = playbook.identity.principalId
