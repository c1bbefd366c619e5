// The Sentinel output on the custom-table path, in the ARM JSON main.bicep compiles to: the
// alert table and its DCR (sentinel-table.bicep), checked against infra/alert-table.json, the
// file the function's rows are validated against.
import { ALERT_TABLE } from "../../functions/incidents/alertRows";
import { inspectKql, type TableSchema } from "../../sandbox/kusto";
import {
  at,
  buildMain,
  isObject,
  moduleDeployment,
  onlyResource,
  resolveVariables,
  text,
  type Json,
  type JsonObject,
  type Located,
} from "./bicep";

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
