// The Sentinel output on the custom-table path, in the ARM JSON main.bicep compiles to: the
// alert table and its DCR (sentinel-table.bicep), checked against infra/alert-table.json, the
// file the function's rows are validated against; the ingest playbook (playbook.bicep), its run
// history and its one role.
import { SETTINGS } from "../../functions/config/settings";
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
  onlyResource,
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

function properties(located: Located): JsonObject {
  const value = located.resource.properties;
  if (!isObject(value)) throw new Error(`${text(located.resource.type)} has no properties`);
  return value;
}

const fileColumns = ALERT_TABLE.columns.map(({ name, type }) => ({ name, type }));

describe("the alert table", () => {
  const table = () => onlyResource(main, "Microsoft.OperationalInsights/workspaces/tables");

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
  const dcr = () => onlyResource(main, "Microsoft.Insights/dataCollectionRules");
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
    const tableLocated = onlyResource(main, "Microsoft.OperationalInsights/workspaces/tables");
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
  const found = resourcesOfType(main, "Microsoft.Logic/workflows").filter(
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

  it("answers 200 only after the rows were accepted, 502 on every other path", () => {
    const { definition } = ingest();
    expect(at(actionOf(definition, "Respond_ingested"), "inputs", "statusCode")).toBe(200);
    expect(at(actionOf(definition, "Respond_ingested"), "runAfter")).toEqual({
      Ingest_alert_rows: ["Succeeded"],
    });
    expect(at(actionOf(definition, "Respond_failed"), "inputs", "statusCode")).toBe(502);
    expect(at(actionOf(definition, "Respond_failed"), "runAfter")).toEqual({
      Ingest_alert_rows: ["Failed", "TimedOut", "Skipped"],
    });
    expect(at(actionOf(definition, "Mark_run_failed"), "type")).toBe("Terminate");
    expect(at(actionOf(definition, "Mark_run_failed"), "runAfter")).toEqual({
      Respond_failed: ["Succeeded"],
    });
  });

  // What the Logs Ingestion API answers (after the action's own retries) and what the playbook
  // then answers the function.
  const scenarios: { situation: string; ingestion: HttpOutcome; answer: number }[] = [
    { situation: "the rows are accepted (204)", ingestion: { statusCode: 204 }, answer: 200 },
    { situation: "the service keeps failing (503)", ingestion: { statusCode: 503 }, answer: 502 },
    { situation: "it is throttled (429)", ingestion: { statusCode: 429 }, answer: 502 },
    { situation: "the role is missing (403)", ingestion: { statusCode: 403 }, answer: 502 },
    { situation: "the rows are refused (400)", ingestion: { statusCode: 400 }, answer: 502 },
    { situation: "the call times out", ingestion: "timeout", answer: 502 },
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
    const workflows = resourcesOfType(main, "Microsoft.Logic/workflows");
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
      const passed = at(moduleDeployment(main, where), "properties", "parameters");
      expect([where, at(passed, "diagnosticsWorkspaceId", "value")]).toEqual([
        where,
        "[reference('monitoring').outputs.logAnalyticsWorkspaceId.value]",
      ]);
    }
  });
});
