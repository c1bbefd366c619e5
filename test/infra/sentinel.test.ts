// The Sentinel output on the custom-table path, in the ARM JSON main.bicep compiles to: the
// alert table and its DCR (sentinel-table.bicep), checked against infra/alert-table.json, the
// file the function's rows are validated against; the ingest playbook (playbook.bicep), its run
// history and its one role.
import { readFileSync } from "node:fs";
import path from "node:path";
import { SETTINGS } from "../../functions/config/settings";
import { loadDetectionRule } from "../../functions/detection/rule";
import { isoDurationMs } from "../../functions/config/duration";
import { ALERT_TABLE } from "../../functions/incidents/alertRows";
import incidentSchema from "../../infra/incident.schema.json";
import { inspectKql, type TableSchema } from "../../sandbox/kusto";
import {
  at,
  buildMain,
  entriesIn,
  inlineVariables,
  isObject,
  moduleDeployment,
  REPO_ROOT,
  resolveVariables,
  resourcesOfType,
  text,
  type Json,
  type JsonObject,
  type Located,
} from "./bicep";
import { simulate, type HttpOutcome } from "./workflow";

let main: JsonObject;

beforeAll(async () => {
  main = await buildMain();
}, 120_000);

/**
 * The value of the few ARM expressions these modules use for names and columns: a literal,
 * variables('x') followed by property accesses, and format() over those. Anything else throws,
 * so a test never compares against an expression it did not understand.
 */
function evaluate(value: Json | undefined, template: JsonObject): Json | undefined {
  if (typeof value !== "string" || !value.startsWith("[") || value.startsWith("[[")) {
    return value;
  }
  return evaluateExpression(value.slice(1, -1), template);
}

function evaluateExpression(expression: string, template: JsonObject): Json | undefined {
  const variable = /^variables\('([^']+)'\)((?:\.[A-Za-z_$#0-9]+)*)$/.exec(expression);
  if (variable) {
    const variables = isObject(template.variables) ? template.variables : {};
    let current = evaluate(resolveVariables(variables[variable[1]], template), template);
    for (const key of variable[2].split(".").filter(Boolean)) {
      current = isObject(current) ? evaluate(current[key], template) : undefined;
    }
    return current;
  }
  const format = /^format\('([^']*)', (.+)\)$/.exec(expression);
  if (format) {
    const args = format[2]
      .split(/, (?=variables\()/)
      .map((arg) => evaluateExpression(arg, template));
    return format[1].replace(/\{(\d+)\}/g, (_, i: string) => text(args[Number(i)]));
  }
  throw new Error(`expression not evaluated by this test: ${expression}`);
}

/** The module main.bicep deploys under this deployment name. */
function moduleNamed(deploymentName: string): JsonObject {
  const resources = at(main, "resources");
  const found = Object.values(isObject(resources) ? resources : {}).find(
    (resource) =>
      isObject(resource) &&
      resource.type === "Microsoft.Resources/deployments" &&
      text(resource.name) === deploymentName,
  );
  if (!isObject(found)) throw new Error(`main.bicep deploys no module named ${deploymentName}`);
  return found;
}

/** The resources of a type that the deployment creates (not `existing` references). */
function declared(type: string): Located[] {
  return resourcesOfType(main, type).filter(({ resource }) => resource.existing !== true);
}

/** The one resource of a type the deployment creates. */
function onlyDeclared(type: string): Located {
  const found = declared(type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}

function properties(located: Located): JsonObject {
  const value = located.resource.properties;
  if (!isObject(value)) throw new Error(`${text(located.resource.type)} has no properties`);
  return value;
}

/**
 * The text of a Bicep string that interpolates only the alert table's name, as ARM has it
 * (format('...{0}...', parameters('alertTableName'))), with the table's name filled in.
 */
function withAlertTable(compiled: string): string {
  // inlineVariables puts a variable's expression in parentheses.
  const match = /^\[\(?format\('(.*)', parameters\('alertTableName'\)\)\)?\]$/s.exec(compiled);
  if (match === null) throw new Error(`not a format over alertTableName: ${compiled}`);
  return match[1]
    .replace(/''/g, "'")
    .replace(/\{0\}/g, ALERT_TABLE.name)
    .replace(/\{\{/g, "{")
    .replace(/\}\}/g, "}");
}

/**
 * The condition that lets Log Analytics Data Reader read SecurityAlert and the alert table and no
 * other table (granular RBAC, restrictive form: learn.microsoft.com/azure/azure-monitor/logs/
 * granular-rbac-use-case).
 */
const ALERT_TABLES_ONLY =
  "((!(ActionMatches{'Microsoft.OperationalInsights/workspaces/tables/data/read'})) OR " +
  "(@Resource[Microsoft.OperationalInsights/workspaces/tables:name] StringEquals 'SecurityAlert' OR " +
  `@Resource[Microsoft.OperationalInsights/workspaces/tables:name] StringEquals '${ALERT_TABLE.name}'))`;
const LOG_ANALYTICS_DATA_READER = "3b03c2da-16b3-4a49-8834-0f8130efdd3b";

interface Grant {
  /** The built-in role's id, or the custom role's actions. */
  role: string | Json[];
  condition?: string;
  conditionVersion?: Json;
}

/**
 * Every role sentinel-roles.bicep grants the principal it takes as this parameter, each checked to
 * be on the workspace: built-in roles by id, custom roles by their actions, with any condition.
 */
function grantsTo(principalParameter: string): Grant[] {
  const held = declared("Microsoft.Authorization/roleAssignments").filter(
    ({ resource }) =>
      text(at(resource, "properties", "principalId")) === `[parameters('${principalParameter}')]`,
  );
  return held.map(({ resource, template }) => {
    expect(text(resource.scope)).toBe(
      "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))]",
    );
    const roleDefinitionId = inlineVariables(
      text(at(resource, "properties", "roleDefinitionId")),
      template,
    );
    const condition = at(resource, "properties", "condition");
    const conditional =
      condition === undefined
        ? {}
        : {
            condition: withAlertTable(inlineVariables(text(condition), template)),
            conditionVersion: at(resource, "properties", "conditionVersion"),
          };
    const custom = /^\[resourceId\('Microsoft\.Authorization\/roleDefinitions', (.+)\)\]$/.exec(
      roleDefinitionId,
    )?.[1];
    if (custom === undefined || custom.startsWith("'")) {
      const builtIn = /'([0-9a-f-]{36})'\)\]$/.exec(roleDefinitionId)?.[1];
      if (builtIn === undefined) throw new Error(`role not understood: ${roleDefinitionId}`);
      return { role: builtIn, ...conditional };
    }
    const role = declared("Microsoft.Authorization/roleDefinitions").find(
      (candidate) => text(candidate.resource.name) === `[${custom}]`,
    );
    if (role === undefined) throw new Error(`no custom role ${custom}`);
    const permissions = resolveVariables(
      at(role.resource, "properties", "permissions"),
      role.template,
    );
    const actions = at(Array.isArray(permissions) ? permissions[0] : undefined, "actions");
    return { role: Array.isArray(actions) ? actions : [], ...conditional };
  });
}

const fileColumns = ALERT_TABLE.columns.map(({ name, type }) => ({ name, type }));

describe("the alert table", () => {
  const table = () => onlyDeclared("Microsoft.OperationalInsights/workspaces/tables");

  it("is created in the Sentinel workspace, on the Analytics plan", () => {
    const located = table();
    expect(located.path).toEqual([expect.stringMatching(/^\[format\('sentinel-table-/)]);
    expect(text(located.resource.name)).toBe(
      "[format('{0}/{1}', parameters('workspaceName'), variables('alertTable').name)]",
    );
    expect(evaluate("[variables('alertTable').name]", located.template)).toBe(ALERT_TABLE.name);
    expect(properties(located).plan).toBe("Analytics");
    // Deployed where the workspace is, like the roles on it.
    const module = moduleDeployment(main, "sentinelTable");
    expect(text(module.resourceGroup)).toBe("[variables('workspaceResourceGroupName')]");
    expect(text(module.subscriptionId)).toBe("[variables('workspaceSubscriptionId')]");
  });

  it("has exactly the columns of infra/alert-table.json, TimeGenerated among them", () => {
    const located = table();
    const schema = at(properties(located), "schema");
    expect(evaluate(at(schema, "name"), located.template)).toBe(ALERT_TABLE.name);
    expect(evaluate(at(schema, "columns"), located.template)).toEqual(fileColumns);
    expect(fileColumns).toContainEqual({ name: "TimeGenerated", type: "datetime" });
  });
});

describe("the alert table's data collection rule", () => {
  const dcr = () => onlyDeclared("Microsoft.Insights/dataCollectionRules");
  const streamName = `Custom-${ALERT_TABLE.name}`;

  function streams(): JsonObject {
    const located = dcr();
    const declared = at(properties(located), "streamDeclarations");
    if (!isObject(declared)) throw new Error("the DCR declares no streams");
    return Object.fromEntries(
      Object.entries(declared).map(([key, value]) => [
        text(evaluate(key, located.template)),
        value,
      ]),
    );
  }

  it("is a Direct DCR in the workspace's region, with its own ingestion endpoint", () => {
    const located = dcr();
    expect(located.resource.kind).toBe("Direct");
    expect(located.resource.apiVersion).toBe("2024-03-11");
    expect(located.resource.location).toBe("[parameters('workspaceLocation')]");
    const passed = at(moduleDeployment(main, "sentinelTable"), "properties", "parameters");
    expect(at(passed, "workspaceLocation", "value")).toBe(
      "[reference('sentinelWorkspace', '2025-07-01', 'full').location]",
    );
    expect(at(main, "resources", "sentinelWorkspace", "existing")).toBe(true);
    const outputs = at(located.template, "outputs");
    expect(at(outputs, "logsIngestionEndpoint", "value")).toMatch(/\.endpoints\.logsIngestion\]$/);
    expect(at(outputs, "dataCollectionRuleImmutableId", "value")).toMatch(/\.immutableId\]$/);
  });

  it("is created after the table it writes to", () => {
    expect(dcr().resource.dependsOn).toEqual([
      "[resourceId('Microsoft.OperationalInsights/workspaces/tables', parameters('workspaceName'), variables('alertTable').name)]",
    ]);
  });

  it("declares one stream, Custom-<table>, whose columns are the table's, column by column", () => {
    const located = dcr();
    const declared = streams();
    expect(Object.keys(declared)).toEqual([streamName]);
    const streamColumns = evaluate(at(declared[streamName], "columns"), located.template);
    const tableLocated = onlyDeclared("Microsoft.OperationalInsights/workspaces/tables");
    const tableColumns = evaluate(
      at(properties(tableLocated), "schema", "columns"),
      tableLocated.template,
    );
    expect(streamColumns).toEqual(tableColumns);
    expect(streamColumns).toEqual(fileColumns);
  });

  it("sends the stream to the Sentinel workspace's table", () => {
    const located = dcr();
    const flows = at(properties(located), "dataFlows");
    expect(Array.isArray(flows) && flows.length).toBe(1);
    const flow = Array.isArray(flows) ? flows[0] : undefined;
    const destination = at(properties(located), "destinations", "logAnalytics");
    expect(destination).toEqual([
      {
        name: "sentinelWorkspace",
        workspaceResourceId:
          "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))]",
      },
    ]);
    expect(at(flow, "destinations")).toEqual(["sentinelWorkspace"]);
    expect(evaluate(at(flow, "outputStream"), located.template)).toBe(streamName);
    const inputs = at(flow, "streams");
    expect(Array.isArray(inputs) && inputs.map((s) => evaluate(s, located.template))).toEqual([
      streamName,
    ]);
  });

  it("has a transformation that Kusto.Language analyses clean, giving the table's columns", () => {
    const located = dcr();
    const flows = at(properties(located), "dataFlows");
    const kql = text(
      evaluate(at(Array.isArray(flows) ? flows[0] : undefined, "transformKql"), located.template),
    );
    // A transformation reads the virtual table `source`, which has the stream's columns.
    const source: TableSchema = {
      Name: "source",
      Properties: fileColumns.map((c) => ({ Name: c.name, Type: c.type })),
    };
    const inspection = inspectKql(kql, [source]);
    expect(inspection.diagnostics).toEqual([]);
    const kustoType = (type: string) => (type === "boolean" ? "bool" : type);
    expect(inspection.resultColumns).toEqual(
      fileColumns.map((c) => ({ name: c.name, type: kustoType(c.type) })),
    );
    // It stamps the ingestion time: the rows never carry TimeGenerated.
    expect(kql).toMatch(/extend TimeGenerated = now\(\)/);
  });
});

/** A Logic App by the module (deployment name) that declares it. */
function workflowIn(moduleName: string): { located: Located; definition: JsonObject } {
  const found = declared("Microsoft.Logic/workflows").filter(
    (located) => located.path.join("/") === moduleName,
  );
  if (found.length !== 1) throw new Error(`expected one Logic App in ${moduleName}`);
  const definition = resolveVariables(properties(found[0]).definition, found[0].template);
  if (!isObject(definition)) throw new Error(`the Logic App in ${moduleName} has no definition`);
  return { located: found[0], definition };
}

function actionOf(definition: JsonObject, name: string): JsonObject {
  const found = entriesIn(definition.actions).find(
    ([key, value]) => key === name && isObject(value),
  );
  if (found === undefined || !isObject(found[1])) throw new Error(`no action ${name}`);
  return found[1];
}

function httpActionsOf(definition: JsonObject): [string, JsonObject][] {
  return entriesIn(definition.actions).filter(
    (entry): entry is [string, JsonObject] => isObject(entry[1]) && entry[1].type === "Http",
  );
}

function seconds(duration: Json | undefined): number {
  const ms = isoDurationMs(text(duration));
  if (ms === undefined) throw new Error(`not an ISO 8601 duration: ${text(duration)}`);
  return ms / 1000;
}

describe("the ingest playbook", () => {
  const ingest = () => workflowIn("playbook");
  const upload = () => actionOf(ingest().definition, "Ingest_alert_rows");

  it("validates its trigger against infra/incident.schema.json, unchanged", () => {
    const { definition } = ingest();
    expect(at(definition, "triggers", "manual", "type")).toBe("Request");
    expect(at(definition, "triggers", "manual", "inputs", "schema")).toEqual(incidentSchema);
    expect(incidentSchema.required).toContain("alertRows");
  });

  it("validates the body at its trigger: a body that breaks the schema gets 400, no run", () => {
    const options = text(at(ingest().definition, "triggers", "manual", "operationOptions"));
    expect(options.split(",").map((option) => option.trim())).toContain("EnableSchemaValidation");
  });

  it("lets in only the function's managed identity, by an Entra ID authorization policy", () => {
    const { located } = ingest();
    const policies = at(
      located.resource,
      "properties",
      "accessControl",
      "triggers",
      "openAuthenticationPolicies",
      "policies",
    );
    if (!isObject(policies)) throw new Error("the playbook has no authorization policy");
    // At most 5 policies of at most 10 claims (logic-apps-limits-and-config).
    expect(Object.keys(policies)).toEqual(["detection-function"]);
    const policy = resolveVariables(policies["detection-function"], located.template);
    expect(at(policy, "type")).toBe("AAD");
    expect(at(policy, "claims")).toEqual([
      { name: "iss", value: "[format('https://sts.windows.net/{0}/', tenant().tenantId)]" },
      { name: "aud", value: "[parameters('callerAudience')]" },
      { name: "appid", value: "[parameters('callerClientId')]" },
    ]);
    const passed = at(moduleDeployment(main, "playbook"), "properties", "parameters");
    expect(at(passed, "callerClientId", "value")).toBe(
      "[reference('identity').outputs.clientId.value]",
    );
  });

  it("refuses a SAS-only call by the documented trigger condition on a bearer token", () => {
    const trigger = at(ingest().definition, "triggers", "manual");
    const options = text(at(trigger, "operationOptions"))
      .split(",")
      .map((option) => option.trim());
    expect(options).toContain("IncludeAuthorizationHeadersInOutputs");
    expect(at(trigger, "conditions")).toEqual([
      { expression: "@startsWith(triggerOutputs()?['headers']?['Authorization'], 'Bearer')" },
    ]);
    // The token in the header stays out of the run history and its logs.
    expect(at(trigger, "runtimeConfiguration", "secureData", "properties")).toEqual(["outputs"]);
  });

  it("has its own system-assigned identity", () => {
    expect(at(ingest().located.resource, "identity", "type")).toBe("SystemAssigned");
  });

  it("makes one call: the payload's rows to the DCR's stream, through the Logs Ingestion API", () => {
    const { located, definition } = ingest();
    expect(httpActionsOf(definition).map(([name]) => name)).toEqual(["Ingest_alert_rows"]);
    const inputs = at(upload(), "inputs");
    expect(at(inputs, "method")).toBe("POST");
    expect(at(inputs, "body")).toBe("@triggerBody()?['alertRows']");
    expect(resolveVariables(at(inputs, "uri"), located.template)).toBe(
      "[format('{0}/dataCollectionRules/{1}/streams/{2}?api-version={3}', parameters('logsIngestionEndpoint'), parameters('dataCollectionRuleImmutableId'), parameters('streamName'), variables('ingestionApiVersion'))]",
    );
    expect(at(located.template, "variables", "ingestionApiVersion")).toBe("2023-01-01");
    const passed = at(moduleDeployment(main, "playbook"), "properties", "parameters");
    expect(at(passed, "logsIngestionEndpoint", "value")).toBe(
      "[reference('sentinelTable').outputs.logsIngestionEndpoint.value]",
    );
    expect(at(passed, "dataCollectionRuleImmutableId", "value")).toBe(
      "[reference('sentinelTable').outputs.dataCollectionRuleImmutableId.value]",
    );
    expect(at(passed, "streamName", "value")).toBe(
      "[reference('sentinelTable').outputs.streamName.value]",
    );
  });

  it("authenticates as itself, for Azure Monitor's audience", () => {
    const { located } = ingest();
    expect(at(upload(), "inputs", "authentication")).toEqual({
      type: "ManagedServiceIdentity",
      audience: "[parameters('monitorAudience')]",
    });
    // No trailing slash: the audience the Logs Ingestion API expects in the public cloud.
    expect(at(located.template, "parameters", "monitorAudience", "defaultValue")).toBe(
      "https://monitor.azure.com",
    );
  });

  it("answers within the function's PLAYBOOK_TIMEOUT and the trigger's 120 s, retries included", () => {
    const { located } = ingest();
    const retry = resolveVariables(at(upload(), "inputs", "retryPolicy"), located.template);
    const attemptTimeout = seconds(
      resolveVariables(at(upload(), "limit", "timeout"), located.template),
    );
    expect(at(retry, "type")).toBe("fixed");
    const retries = Number(at(retry, "count"));
    // Even if the bound applied per attempt rather than to the action.
    const worst = (retries + 1) * attemptTimeout + retries * seconds(at(retry, "interval"));
    const playbookTimeout = SETTINGS.find((s) => s.name === "PLAYBOOK_TIMEOUT");
    const functionWaits = seconds(
      playbookTimeout && "default" in playbookTimeout ? playbookTimeout.default : undefined,
    );
    expect(worst).toBeLessThan(functionWaits);
    expect(worst).toBeLessThan(120);
  });

  it("answers 200 only after the rows were accepted, and decides the rest after a failure", () => {
    const { definition } = ingest();
    expect(at(actionOf(definition, "Respond_ingested"), "inputs", "statusCode")).toBe(200);
    expect(at(actionOf(definition, "Respond_ingested"), "runAfter")).toEqual({
      Ingest_alert_rows: ["Succeeded"],
    });
    expect(at(actionOf(definition, "Classify_failure"), "runAfter")).toEqual({
      Ingest_alert_rows: ["Failed", "TimedOut", "Skipped"],
    });
    expect(at(actionOf(definition, "Mark_run_failed"), "type")).toBe("Terminate");
    expect(at(actionOf(definition, "Mark_run_failed"), "runAfter")).toEqual({
      Classify_failure: ["Succeeded"],
    });
  });

  it("passes the Logs Ingestion API's own error back with a permanent refusal", () => {
    const { definition, located } = ingest();
    const refused = at(
      actionOf(definition, "Classify_failure"),
      "else",
      "actions",
      "Classify_refused",
      "actions",
      "Respond_refused",
    );
    const tooLarge = at(actionOf(definition, "Classify_failure"), "actions", "Respond_too_large");
    for (const response of [refused, tooLarge]) {
      const body = resolveVariables(at(response, "inputs", "body"), located.template);
      expect(at(body, "ingestionError")).toBe(
        "@actions('Ingest_alert_rows')?['outputs']?['body']?['error']",
      );
      expect(at(body, "incidentId")).toBe("@triggerBody()?['incidentId']");
    }
  });

  // What the Logs Ingestion API answers (after the action's own retries) and what the playbook
  // then answers the function.
  const scenarios: { situation: string; ingestion: HttpOutcome; answer: number }[] = [
    { situation: "the rows are accepted (204)", ingestion: { statusCode: 204 }, answer: 200 },
    { situation: "the service keeps failing (503)", ingestion: { statusCode: 503 }, answer: 502 },
    { situation: "it is throttled (429)", ingestion: { statusCode: 429 }, answer: 502 },
    { situation: "the role is missing (403)", ingestion: { statusCode: 403 }, answer: 502 },
    { situation: "it times out (408)", ingestion: { statusCode: 408 }, answer: 502 },
    { situation: "the call times out", ingestion: "timeout", answer: 502 },
    // Permanent: the function parks the incident as rejected instead of posting it again.
    {
      situation: "the rows do not match the stream (400)",
      ingestion: { statusCode: 400 },
      answer: 400,
    },
    { situation: "the call is over 1 MB (413)", ingestion: { statusCode: 413 }, answer: 413 },
  ];

  it.each(scenarios)("when $situation, answers $answer", ({ ingestion, answer }) => {
    const actions = ingest().definition.actions;
    if (!isObject(actions)) throw new Error("the playbook has no actions");
    const run = simulate(actions, (name) => {
      if (name !== "Ingest_alert_rows") throw new Error(`unexpected call: ${name}`);
      return ingestion;
    });
    expect(run.calls).toEqual(["Ingest_alert_rows"]);
    expect(run.responses).toEqual([answer]);
  });

  it("holds one role: Monitoring Metrics Publisher on the alert table's DCR, nothing else", () => {
    const roles = moduleDeployment(main, "sentinelRoles");
    expect(at(roles, "properties", "parameters", "ingestPlaybookPrincipalId", "value")).toBe(
      "[reference('playbook').outputs.principalId.value]",
    );
    const held = resourcesOfType(main, "Microsoft.Authorization/roleAssignments").filter(
      ({ resource }) =>
        text(at(resource, "properties", "principalId")) ===
        "[parameters('ingestPlaybookPrincipalId')]",
    );
    expect(
      held.map(({ resource, template }) => [
        text(resource.scope),
        inlineVariables(text(at(resource, "properties", "roleDefinitionId")), template),
      ]),
    ).toEqual([
      [
        "[resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName'))]",
        expect.stringContaining("3913510d-42f4-4e42-8a64-420c390055eb"),
      ],
    ]);
    // The principal id reaches no other module.
    const passedOn = JSON.stringify(main).match(/reference\('playbook'\)\.outputs\.principalId/g);
    expect(passedOn).toHaveLength(1);
  });
});

describe("Logic App run history", () => {
  it("goes to the monitoring workspace (WorkflowRuntime) for every Logic App", () => {
    const workflows = declared("Microsoft.Logic/workflows");
    expect(workflows.length).toBeGreaterThan(0);
    const settings = resourcesOfType(main, "Microsoft.Insights/diagnosticSettings");
    for (const workflow of workflows) {
      const where = workflow.path.join("/");
      const mine = settings.filter(
        (s) =>
          s.path.join("/") === where &&
          text(s.resource.scope) ===
            `[resourceId('Microsoft.Logic/workflows', ${text(workflow.resource.name).slice(1, -1)})]`,
      );
      expect([where, mine.length]).toEqual([where, 1]);
      expect(at(mine[0].resource, "properties", "logs")).toEqual([
        { category: "WorkflowRuntime", enabled: true },
      ]);
      expect(at(mine[0].resource, "properties", "workspaceId")).toBe(
        "[parameters('diagnosticsWorkspaceId')]",
      );
      const passed = at(moduleNamed(where), "properties", "parameters");
      expect([where, at(passed, "diagnosticsWorkspaceId", "value")]).toEqual([
        where,
        "[reference('monitoring').outputs.logAnalyticsWorkspaceId.value]",
      ]);
    }
  });
});

// --- The analytics rule, the automation rule, the evidence playbook, detection health ---------

const detection = loadDetectionRule();
const ruleFile = JSON.parse(
  readFileSync(path.join(REPO_ROOT, "infra", "sentinel", "analytics-rule.json"), "utf8"),
) as JsonObject;
const alertTableSchema: TableSchema = {
  Name: ALERT_TABLE.name,
  Properties: ALERT_TABLE.columns.map((c) => ({ Name: c.name, Type: c.type })),
};
const securityAlertSchema = JSON.parse(
  readFileSync(path.join(__dirname, "schemas", "SecurityAlert.json"), "utf8"),
) as TableSchema;

/**
 * Identifiers each entity type accepts in an analytics rule's entity mappings (Microsoft Sentinel
 * entities reference, "Entity types and identifiers":
 * learn.microsoft.com/azure/sentinel/entities-reference).
 */
const ENTITY_IDENTIFIERS: Record<string, string[]> = {
  Account: [
    "Name",
    "FullName",
    "NTDomain",
    "DnsDomain",
    "UPNSuffix",
    "Sid",
    "AadTenantId",
    "AadUserId",
    "PUID",
    "IsDomainJoined",
    "DisplayName",
    "ObjectGuid",
  ],
  Host: [
    "DnsDomain",
    "NTDomain",
    "HostName",
    "FullName",
    "NetBiosName",
    "AzureID",
    "OMSAgentID",
    "OSFamily",
    "OSVersion",
    "IsDomainJoined",
  ],
  File: ["Directory", "Name"],
  FileHash: ["Algorithm", "Value"],
  Process: ["ProcessId", "CommandLine", "ElevationToken", "CreationTimeUtc"],
  // IP: Address (strong identifier), Location (entities-reference).
  IP: ["Address", "Location"],
};

function ruleResource(): Located {
  return onlyDeclared("Microsoft.SecurityInsights/alertRules");
}

function ruleProperty(name: string): Json | undefined {
  const located = ruleResource();
  return evaluate(at(properties(located), name), located.template);
}

/** A GUID standing for the deployed rule's id, which replaces the query's placeholder. */
const DEPLOYED_RULE_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

/** The query as deployed: the file, with the rule's own id where its placeholder is. */
function ruleQuery(): string {
  const located = ruleResource();
  expect(at(properties(located), "query")).toBe(
    "[replace(variables('ruleQuery'), 'ANALYTICS_RULE_ID', variables('ruleName'))]",
  );
  return text(evaluate("[variables('ruleQuery')]", located.template)).replaceAll(
    "ANALYTICS_RULE_ID",
    DEPLOYED_RULE_ID,
  );
}

interface Mapping {
  entityType: string;
  fieldMappings: { identifier: string; columnName: string }[];
}

describe("the analytics rule", () => {
  it("is a Scheduled rule of the stable SecurityInsights API, in the Sentinel workspace", () => {
    const { resource } = ruleResource();
    expect(resource.kind).toBe("Scheduled");
    expect(resource.apiVersion).toBe("2025-09-01");
    expect(resource.scope).toBe(
      "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))]",
    );
    const module = moduleDeployment(main, "sentinelRule");
    expect(text(module.resourceGroup)).toBe("[variables('workspaceResourceGroupName')]");
    expect(ruleProperty("enabled")).toBe(true);
  });

  it("takes its name, description, severity, tactics and techniques from nbtscan.yaml", () => {
    const located = ruleResource();
    const props = properties(located);
    // The YAML is loaded (loadYamlContent), not copied: its values are in the template.
    expect(evaluate("[variables('detection')]", located.template)).toMatchObject({
      id: detection.id,
      name: detection.name,
      severity: detection.severity,
    });
    expect(props.displayName).toBe("[variables('detection').name]");
    expect(props.description).toBe("[variables('detection').description]");
    expect(props.severity).toBe("[variables('detection').severity]");
    expect(props.tactics).toBe("[variables('detection').tactics]");
    expect(props.techniques).toBe("[variables('detection').relevantTechniques]");
    // What they give: Sentinel's tactic names and ATT&CK technique ids, as the rule file has them.
    expect(evaluate("[variables('detection').tactics]", located.template)).toEqual(["Discovery"]);
    expect(evaluate("[variables('detection').relevantTechniques]", located.template)).toEqual([
      "T1046",
      "T1018",
      "T1016",
      "T1033",
    ]);
  });

  it("runs every 5 minutes, pausing 20 minutes after a run that alerts, one alert per row, within the scheduled-rule limits", () => {
    // The schedule test/sandbox/sentinelDay.test.ts proves (design: sentinel-rule.bicep).
    expect(ruleProperty("queryFrequency")).toBe("PT5M");
    expect(ruleProperty("queryPeriod")).toBe("P2D");
    expect(ruleProperty("suppressionEnabled")).toBe(true);
    expect(ruleProperty("suppressionDuration")).toBe("PT20M");
    expect(ruleProperty("triggerOperator")).toBe("GreaterThan");
    expect(ruleProperty("triggerThreshold")).toBe(0);
    expect(ruleProperty("eventGroupingSettings")).toEqual({ aggregationKind: "AlertPerResult" });
    expect(ruleQuery().length).toBeLessThanOrEqual(10_000);
    // At most 150 alerts per run: the query never returns more, so none is a summary alert.
    expect(ruleQuery()).toMatch(/\| take 150\b/);
  });

  it("reads only its own alerts from SecurityAlert: the rule's id is written into its query", () => {
    const located = ruleResource();
    expect(located.resource.name).toBe("[variables('ruleName')]");
    expect(at(located.template, "variables", "ruleName")).toBe(
      "[guid(resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName')), variables('detection').id)]",
    );
    const file = text(evaluate("[variables('ruleQuery')]", located.template));
    expect(file).toContain('let thisRuleId = "ANALYTICS_RULE_ID";');
    expect(ruleQuery()).toContain(`let thisRuleId = "${DEPLOYED_RULE_ID}";`);
    expect(ruleQuery()).toContain("| where AlertType endswith thisRuleId");
  });

  it("has a query that Kusto.Language analyses clean against the table's and SecurityAlert's schemas", () => {
    const inspection = inspectKql(ruleQuery(), [alertTableSchema, securityAlertSchema]);
    expect(inspection.diagnostics).toEqual([]);
    expect(inspection.resultColumns).toBeDefined();
  });

  it("maps Host, Account, File, FileHash (SHA1, SHA256), Process and IP with documented identifiers", () => {
    const mappings = ruleProperty("entityMappings") as unknown as Mapping[];
    expect(mappings.map((m) => m.entityType)).toEqual([
      "Host",
      "Account",
      "File",
      "FileHash",
      "FileHash",
      "Process",
      "Process",
      "IP",
    ]);
    expect(mappings.length).toBeLessThanOrEqual(10);
    for (const mapping of mappings) {
      expect(mapping.fieldMappings.length).toBeGreaterThan(0);
      expect(mapping.fieldMappings.length).toBeLessThanOrEqual(3);
      for (const { identifier } of mapping.fieldMappings) {
        expect([mapping.entityType, ENTITY_IDENTIFIERS[mapping.entityType]]).toEqual([
          mapping.entityType,
          expect.arrayContaining([identifier]),
        ]);
      }
    }
    // FileHash: one for each algorithm, the algorithm's name coming from the query.
    const hashes = mappings.filter((m) => m.entityType === "FileHash");
    const algorithmColumns = hashes.map(
      (m) => m.fieldMappings.find((f) => f.identifier === "Algorithm")?.columnName,
    );
    const valueColumns = hashes.map(
      (m) => m.fieldMappings.find((f) => f.identifier === "Value")?.columnName,
    );
    expect(valueColumns).toEqual(["SHA1", "SHA256"]);
    expect(ruleQuery()).toContain(
      `extend ${algorithmColumns[0]} = "SHA1", ${algorithmColumns[1]} = "SHA256"`,
    );
  });

  it("names only columns its query returns, in mappings, custom details and overrides", () => {
    const result = inspectKql(ruleQuery(), [alertTableSchema, securityAlertSchema]).resultColumns;
    const returned = (result ?? []).map((c) => c.name);
    const mappings = ruleProperty("entityMappings") as unknown as Mapping[];
    const named = [
      ...mappings.flatMap((m) => m.fieldMappings.map((f) => f.columnName)),
      ...Object.values(ruleProperty("customDetails") as JsonObject).map((v) => text(v)),
      text(at(ruleProperty("alertDetailsOverride"), "alertSeverityColumnName")),
      text(at(ruleProperty("alertDetailsOverride"), "alertTacticsColumnName")),
      ...(at(ruleProperty("alertDetailsOverride"), "alertDynamicProperties") as JsonObject[]).map(
        (p) => text(p.value),
      ),
      ...["alertDisplayNameFormat", "alertDescriptionFormat"].flatMap((key) =>
        [...text(at(ruleProperty("alertDetailsOverride"), key)).matchAll(/\{\{(\w+)\}\}/g)].map(
          (m) => m[1],
        ),
      ),
    ];
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((column) => !returned.includes(column))).toEqual([]);
  });

  it("has custom details Sentinel accepts: at most 20, keys of at most 20 word characters", () => {
    const details = ruleProperty("customDetails") as JsonObject;
    const keys = Object.keys(details);
    expect(keys.length).toBeLessThanOrEqual(20);
    for (const key of keys) expect(key).toMatch(/^[a-zA-Z]+\w{0,19}$/);
    expect(key20(keys)).toEqual([]);
    expect(details).toMatchObject({
      IncidentKey: "IncidentKey",
      EventKey: "EventKey",
      MatchedBy: "MatchedBy",
      DeviceId: "DeviceId",
      ReportId: "ReportId",
      // Each detection's own customDetails, as the row carries them.
      RuleDetails: "CustomDetails",
    });
  });

  it("makes the alert's title, description, severity, tactics and techniques each row's, within the format limits", () => {
    const override = ruleProperty("alertDetailsOverride") as JsonObject;
    // One rule for every detection: what differs between detections comes from the row.
    expect(override).toEqual({
      alertDisplayNameFormat: "{{AlertTitle}}",
      alertDescriptionFormat: "{{AlertDescription}}",
      alertSeverityColumnName: "AlertSeverity",
      alertTacticsColumnName: "AlertTactics",
      alertDynamicProperties: [{ alertProperty: "Techniques", value: "AlertTechniques" }],
    });
    for (const key of ["alertDisplayNameFormat", "alertDescriptionFormat"]) {
      expect((text(override[key]).match(/\{\{/g) ?? []).length).toBeLessThanOrEqual(3);
    }
  });

  it("groups its alerts into one incident per IncidentKey, over the longest lookback", () => {
    expect(ruleProperty("incidentConfiguration")).toEqual({
      createIncident: true,
      groupingConfiguration: {
        enabled: true,
        reopenClosedIncident: true,
        lookbackDuration: "P7D",
        matchingMethod: "Selected",
        groupByEntities: [],
        groupByAlertDetails: [],
        groupByCustomDetails: ["IncidentKey"],
      },
    });
    // Only a key of this rule's custom details may be grouped on.
    expect(Object.keys(ruleProperty("customDetails") as JsonObject)).toContain("IncidentKey");
  });

  it("is created after the alert table: main passes the table's name from its module", () => {
    const passed = at(moduleDeployment(main, "sentinelRule"), "properties", "parameters");
    expect(at(passed, "alertTableName", "value")).toBe(
      "[reference('sentinelTable').outputs.tableName.value]",
    );
    const located = ruleResource();
    expect(located.resource.dependsOn).toEqual(["alertTable"]);
    expect(at(located.template, "resources", "alertTable", "name")).toBe(
      "[format('{0}/{1}', parameters('workspaceName'), parameters('alertTableName'))]",
    );
  });

  it("is read from the same file the sandbox applies", () => {
    const located = ruleResource();
    expect(evaluate("[variables('ruleDefinition')]", located.template)).toEqual(ruleFile);
  });
});

/** Custom detail keys longer than 20 characters. */
function key20(keys: string[]): string[] {
  return keys.filter((key) => key.length > 20);
}

describe("the automation rule", () => {
  function automation(): JsonObject {
    return properties(onlyDeclared("Microsoft.SecurityInsights/automationRules"));
  }

  it("fires when an incident of the analytics rule is created", () => {
    const logic = at(automation(), "triggeringLogic");
    expect(at(logic, "isEnabled")).toBe(true);
    expect(at(logic, "triggersOn")).toBe("Incidents");
    expect(at(logic, "triggersWhen")).toBe("Created");
    expect(at(logic, "conditions")).toEqual([
      {
        conditionType: "Property",
        conditionProperties: {
          propertyName: "IncidentRelatedAnalyticRuleIds",
          operator: "Contains",
          propertyValues: [
            "[extensionResourceId(resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName')), 'Microsoft.SecurityInsights/alertRules', variables('ruleName'))]",
          ],
        },
      },
    ]);
  });

  it("labels the incident nbtscan-detector, then runs the evidence and response playbooks", () => {
    const located = onlyDeclared("Microsoft.SecurityInsights/automationRules");
    expect(at(located.template, "variables", "playbookIds")).toBe(
      "[concat(if(empty(parameters('evidencePlaybookId')), createArray(), createArray(parameters('evidencePlaybookId'))), parameters('responsePlaybookIds'))]",
    );
    const actions = text(at(automation(), "actions"));
    expect(actions).toContain(
      "createObject('order', 1, 'actionType', 'ModifyProperties', 'actionConfiguration', createObject('labels', createArray(createObject('labelName', 'nbtscan-detector'))))",
    );
    expect(actions).toContain("'actionType', 'RunPlaybook'");
    expect(actions).toContain(
      "createObject('logicAppResourceId', variables('playbookIds')[lambdaVariables('i')], 'tenantId', tenant().tenantId)",
    );
    const passed = at(moduleDeployment(main, "sentinelRule"), "properties", "parameters");
    // The evidence playbook only once Sentinel may run it (the role below), else labels only.
    expect(at(passed, "evidencePlaybookId")).toBe(
      "[if(reference('evidencePlaybook').outputs.sentinelMayRunPlaybooks.value, createObject('value', reference('evidencePlaybook').outputs.id.value), createObject('value', ''))]",
    );
    expect(at(passed, "responsePlaybookIds", "value")).toBe("[parameters('responsePlaybookIds')]");
    expect(at(main, "parameters", "responsePlaybookIds", "defaultValue")).toEqual([]);
  });

  it("never exceeds the 20 actions an automation rule takes, however many response playbooks", () => {
    // AutomationRules.json (securityinsights 2025-09-01): AutomationRuleProperties.actions maxItems 20.
    const MAX_ACTIONS = 20;
    const actions = text(at(automation(), "actions"));
    // What the rule adds besides the playbooks: the fixed actions before the playbooks' map().
    const fixed = actions.slice(0, actions.indexOf("map(range(")).match(/'actionType', '/g) ?? [];
    const perPlaybook =
      actions.slice(actions.indexOf("map(range(")).match(/'actionType', '/g) ?? [];
    expect([fixed.length, perPlaybook.length]).toEqual([1, 1]);
    // The playbooks: the evidence playbook (at most one) and the response playbooks.
    const located = onlyDeclared("Microsoft.SecurityInsights/automationRules");
    expect(at(located.template, "variables", "playbookIds")).toContain(
      "createArray(parameters('evidencePlaybookId'))",
    );
    const bound = at(located.template, "parameters", "responsePlaybookIds", "maxLength");
    expect(typeof bound).toBe("number");
    expect(fixed.length + 1 + Number(bound)).toBe(MAX_ACTIONS);
    // main.bicep's parameter, which azd sets, holds the same bound.
    expect(at(main, "parameters", "responsePlaybookIds", "maxLength")).toBe(bound);
  });

  it("runs playbooks only after Azure Security Insights holds Automation Contributor on their group", () => {
    const grant = declared("Microsoft.Authorization/roleAssignments").find(({ resource }) =>
      text(at(resource, "properties", "principalId")).includes("securityInsightsPrincipalId"),
    );
    expect(grant).toBeDefined();
    expect(grant?.path).toEqual(["evidence-playbook"]);
    expect(grant?.resource.condition).toBe(
      "[not(empty(parameters('securityInsightsPrincipalId')))]",
    );
    // No scope: the playbooks' resource group.
    expect(grant?.resource.scope).toBeUndefined();
    expect(
      inlineVariables(text(at(grant?.resource, "properties", "roleDefinitionId")), grant!.template),
    ).toContain("f4c81013-99ee-4d62-a7ee-b3f1f648599a");
    // The hook finds the principal's object id; azd passes it on.
    const parameters = JSON.parse(
      readFileSync(path.join(REPO_ROOT, "infra", "main.parameters.json"), "utf8"),
    ) as JsonObject;
    expect(at(parameters, "parameters", "securityInsightsPrincipalId", "value")).toBe(
      "${SECURITY_INSIGHTS_PRINCIPAL_ID}",
    );
    const azureYaml = readFileSync(path.join(REPO_ROOT, "azure.yaml"), "utf8");
    expect(azureYaml).toContain("node infra/hooks/security-insights-principal.js");
    expect(
      readFileSync(
        path.join(REPO_ROOT, "infra", "hooks", "security-insights-principal.js"),
        "utf8",
      ),
    ).toContain("98785600-1bb7-4fb9-b9fa-19afe2c8a360");
  });
});

describe("the evidence playbook", () => {
  const evidence = () => workflowIn("evidence-playbook");

  it("is started by the Microsoft Sentinel incident trigger, through a managed-identity connection", () => {
    const { located, definition } = evidence();
    expect(at(definition, "triggers", "Microsoft_Sentinel_incident", "type")).toBe(
      "ApiConnectionWebhook",
    );
    expect(at(definition, "triggers", "Microsoft_Sentinel_incident", "inputs", "path")).toBe(
      "/incident-creation",
    );
    expect(at(located.resource, "identity", "type")).toBe("SystemAssigned");
    const connections = at(properties(located), "parameters", "$connections", "value");
    expect(at(connections, "azuresentinel", "connectionProperties")).toEqual({
      authentication: { type: "ManagedServiceIdentity" },
    });
    const connection = onlyDeclared("Microsoft.Web/connections");
    expect(connection.resource.kind).toBe("V1");
    expect(at(connection.resource, "properties", "parameterValueType")).toBe("Alternative");
    expect(
      text(
        resolveVariables(at(connection.resource, "properties", "api", "id"), connection.template),
      ),
    ).toContain("'Microsoft.Web/locations/managedApis', parameters('location'), 'azuresentinel'");
  });

  it("reads the evidence with a query that Kusto.Language analyses clean", () => {
    const { located } = evidence();
    // The alert ids the workflow puts where @{string(body('Alert_ids'))} is.
    const kql = withAlertTable(text(at(located.template, "variables", "evidenceQuery"))).replace(
      "@{string(body('Alert_ids'))}",
      '["a1","a2"]',
    );
    const inspection = inspectKql(kql, [alertTableSchema, securityAlertSchema]);
    expect(inspection.diagnostics).toEqual([]);
    expect(inspection.resultColumns?.map((c) => c.name)).toEqual(["EvidenceComment"]);
  });

  /** The definition's actions, with the fallback comment's table name filled in. */
  function evidenceActions(): JsonObject {
    const actions = evidence().definition.actions;
    if (!isObject(actions)) throw new Error("no actions");
    const comment = actionOf(evidence().definition, "Add_evidence_comment");
    const message = withAlertTable(text(at(comment, "inputs", "body", "message")));
    return {
      ...actions,
      Add_evidence_comment: {
        ...comment,
        inputs: {
          ...(comment.inputs as JsonObject),
          body: { ...(at(comment, "inputs", "body") as JsonObject), message },
        },
      },
    };
  }
  const INCIDENT_ID =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/Incidents/1";
  const TRIGGER = { object: { id: INCIDENT_ID } };
  const FALLBACK = `nbtscan-detector: no evidence row was found for this incident in ${ALERT_TABLE.name}; query it by the IncidentKey custom detail.`;
  /** The query API's answer: one table, with the evidence comment row when there is one. */
  const answer = (...rows: string[]): HttpOutcome => ({
    statusCode: 200,
    body: {
      tables: [
        {
          name: "PrimaryResult",
          columns: [{ name: "EvidenceComment", type: "string" }],
          rows: rows.map((row) => [row]),
        },
      ],
    },
  });

  it("reads the evidence as its own identity and comments on the incident", () => {
    const { definition } = evidence();
    const comment = actionOf(definition, "Add_evidence_comment");
    expect(at(comment, "inputs", "path")).toBe("/Incidents/Comment");
    expect(at(comment, "inputs", "body", "incidentArmId")).toBe("@triggerBody()?['object']?['id']");
    const loop = actionOf(definition, "Until_evidence_found");
    expect(at(loop, "actions", "Read_evidence", "inputs", "authentication")).toEqual({
      type: "ManagedServiceIdentity",
      audience: "[parameters('logAnalyticsAudience')]",
    });
  });

  it("waits for the alert records in a loop of about 15 minutes, bounded by count and time", () => {
    const loop = actionOf(evidence().definition, "Until_evidence_found");
    const { located } = evidence();
    const limit = resolveVariables(at(loop, "limit"), located.template);
    expect(limit).toEqual({ count: 15, timeout: "PT20M" });
    expect(at(loop, "actions", "Wait_for_alert_records", "inputs", "interval")).toEqual({
      count: 1,
      unit: "Minute",
    });
    // The rounds' waits fit in the timeout, so the count is what ends a loop of empty answers.
    expect(15 * 60).toBeLessThanOrEqual(seconds("PT20M"));
  });

  it("comments the evidence as soon as a round finds it", () => {
    let reads = 0;
    const run = simulate(
      evidenceActions(),
      (name) => {
        if (name === "Add_evidence_comment") return { statusCode: 200 };
        reads += 1;
        return reads < 3 ? answer() : answer("| evidence |");
      },
      TRIGGER,
    );
    expect(run.calls).toEqual([
      "Read_evidence",
      "Read_evidence",
      "Read_evidence",
      "Add_evidence_comment",
    ]);
    expect(run.waitedMinutes).toBe(3);
    expect(run.sent).toEqual([
      {
        action: "Add_evidence_comment",
        body: { incidentArmId: INCIDENT_ID, message: "| evidence |" },
      },
    ]);
  });

  it("writes the fallback comment when the alert records never come, after 15 minutes", () => {
    const run = simulate(
      evidenceActions(),
      (name) => (name === "Add_evidence_comment" ? { statusCode: 200 } : answer()),
      TRIGGER,
    );
    expect(run.calls.filter((call) => call === "Read_evidence")).toHaveLength(15);
    expect(run.calls.at(-1)).toBe("Add_evidence_comment");
    expect(run.waitedMinutes).toBe(15);
    expect(at(run.sent[0].body, "message")).toBe(FALLBACK);
  });

  it("still writes the fallback comment when every read fails or times out", () => {
    for (const outcome of [{ statusCode: 403 }, "timeout"] as HttpOutcome[]) {
      const run = simulate(
        evidenceActions(),
        (name) => (name === "Add_evidence_comment" ? { statusCode: 200 } : outcome),
        TRIGGER,
      );
      expect(run.calls.filter((call) => call === "Read_evidence")).toHaveLength(15);
      expect(run.sent.map((sent) => at(sent.body, "message"))).toEqual([FALLBACK]);
    }
  });

  it("holds Log Analytics Data Reader on the two tables it reads, and a custom role to comment", () => {
    expect(grantsTo("evidencePlaybookPrincipalId")).toEqual([
      { role: LOG_ANALYTICS_DATA_READER, condition: ALERT_TABLES_ONLY, conditionVersion: "2.0" },
      {
        role: [
          "Microsoft.SecurityInsights/incidents/read",
          "Microsoft.SecurityInsights/incidents/comments/read",
          "Microsoft.SecurityInsights/incidents/comments/write",
        ],
      },
    ]);
  });
});

describe("reads of the alert table", () => {
  it("use no per-table action, which custom and Logs Ingestion tables do not support", () => {
    // learn.microsoft.com/azure/azure-monitor/logs/manage-table-access: the legacy table-level
    // action cannot target an individual custom table.
    const actions = declared("Microsoft.Authorization/roleDefinitions").flatMap(
      ({ resource, template }) => {
        const permissions = resolveVariables(at(resource, "properties", "permissions"), template);
        return (Array.isArray(permissions) ? permissions : []).flatMap((p) => {
          const listed = at(p, "actions");
          return Array.isArray(listed) ? listed.map(text) : [];
        });
      },
    );
    expect(actions.filter((action) => action.includes("OperationalInsights"))).toEqual([]);
  });
});

describe("detection health: rows that did not become alerts", () => {
  function healthRule(): Located {
    const found = declared("Microsoft.Insights/scheduledQueryRules").filter(
      (located) => located.path.join("/") === "sentinel-health",
    );
    if (found.length !== 1) throw new Error("expected one Sentinel health rule");
    return found[0];
  }

  it("watches the Sentinel workspace every 15 minutes", () => {
    const props = properties(healthRule());
    expect(props.scopes).toEqual(["[parameters('sentinelWorkspaceResourceId')]"]);
    expect(props.evaluationFrequency).toBe("PT15M");
    const passed = at(moduleNamed("sentinel-health"), "properties", "parameters");
    expect(at(passed, "sentinelWorkspaceResourceId", "value")).toBe(
      "[parameters('sentinelWorkspaceResourceId')]",
    );
    expect(at(passed, "actionGroupIds", "value")).toBe(
      "[reference('healthAlert').outputs.actionGroupIds.value]",
    );
  });

  it("runs as its own identity, which may query the two tables it joins and nothing else", () => {
    expect(at(healthRule().resource, "identity")).toEqual({ type: "SystemAssigned" });
    const passed = at(
      moduleNamed(`[format('sentinel-roles-{0}', variables('resourceToken'))]`),
      "properties",
      "parameters",
    );
    expect(at(passed, "sentinelHealthPrincipalId", "value")).toBe(
      "[reference('sentinelHealth').outputs.principalId.value]",
    );
    expect(grantsTo("sentinelHealthPrincipalId")).toEqual([
      { role: LOG_ANALYTICS_DATA_READER, condition: ALERT_TABLES_ONLY, conditionVersion: "2.0" },
    ]);
  });

  it("compares rows with the analytics rule's own alerts on EventKey, in KQL that analyses clean", () => {
    const located = healthRule();
    const template = text(at(located.template, "variables", "unalertedQuery"));
    const kql = template
      .replace("{0}", ALERT_TABLE.name)
      .replace(/\{1\}/g, "60")
      .replace("{2}", DEPLOYED_RULE_ID);
    const inspection = inspectKql(kql, [alertTableSchema, securityAlertSchema]);
    expect(inspection.diagnostics).toEqual([]);
    expect(kql).toMatch(/join kind=leftanti alerted on EventKey/);
    expect(kql).toContain(`| where AlertType endswith "${DEPLOYED_RULE_ID}"`);
    expect(text(at(properties(located), "criteria", "allOf"))).toContain(
      "format(variables('unalertedQuery'), parameters('alertTableName'), parameters('graceMinutes'), parameters('analyticsRuleName'))",
    );
    // The grace covers the rule's worst wait on a quiet day (suppression, schedule, delay,
    // SecurityAlert latency: about 40 minutes).
    expect(at(located.template, "parameters", "graceMinutes")).toMatchObject({
      defaultValue: 60,
      minValue: 45,
    });
    const passed = at(moduleNamed("sentinel-health"), "properties", "parameters");
    expect(at(passed, "analyticsRuleName", "value")).toBe(
      "[reference('sentinelRule').outputs.analyticsRuleName.value]",
    );
    const criteria = at(properties(located), "criteria", "allOf");
    const first = Array.isArray(criteria) ? criteria[0] : undefined;
    expect(at(first, "metricMeasureColumn")).toBe("UnalertedIncidents");
    expect(inspection.resultColumns?.map((c) => c.name)).toContain("UnalertedIncidents");
    expect(at(first, "operator")).toBe("GreaterThan");
    expect(at(first, "threshold")).toBe(0);
  });
});
