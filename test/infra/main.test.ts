// Assertions on the ARM template infra/main.bicep compiles to, nested module templates included:
// hardening, least-privilege roles, no secret anywhere, and the contracts with the
// function (its settings, its name and log line) and with the payload schema.
import { SETTINGS } from "../../functions/config/settings";
import {
  DETECTION_QUEUE_NAME,
  POISON_QUEUE_NAME,
  QUEUE_CONNECTION,
} from "../../functions/fanout/queues";
import {
  DATA_SILENCE,
  DETECTION_UNAVAILABLE,
  FUNCTION_NAME,
  RUN_COMPLETED,
} from "../../functions/run/runLog";
import {
  allResources,
  at,
  buildMain,
  entriesIn,
  inlineVariables,
  isObject,
  moduleDeployment,
  onlyResource,
  resolveVariables,
  resourcesOfType,
  stringsIn,
  templatesOf,
  type Json,
  type JsonObject,
  type Located,
  text,
} from "./bicep";

/** Built-in roles the deployment may grant, each the least that its holder needs, and where. */
const LEAST_PRIVILEGE_ROLES: Record<string, { role: string; scopeTypes: string[] }> = {
  "3b03c2da-16b3-4a49-8834-0f8130efdd3b": {
    role: "Log Analytics Data Reader",
    scopeTypes: ["Microsoft.OperationalInsights/workspaces"],
  },
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": {
    role: "Storage Blob Data Owner",
    scopeTypes: ["Microsoft.Storage/storageAccounts"],
  },
  "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": {
    role: "Storage Table Data Contributor",
    scopeTypes: ["Microsoft.Storage/storageAccounts"],
  },
  // The fan-out's two queues, each on its own (not the account): the Reader + Message Processor
  // pair cannot release a failed message (MicrosoftDocs/azure-docs#120932).
  "974c5e8b-45b9-4653-ba55-5f855dd0fb88": {
    role: "Storage Queue Data Contributor",
    scopeTypes: ["Microsoft.Storage/storageAccounts/queueServices/queues"],
  },
  "3913510d-42f4-4e42-8a64-420c390055eb": {
    role: "Monitoring Metrics Publisher",
    // The function's telemetry; the ingest playbook's alert rows (Logs Ingestion API).
    scopeTypes: ["Microsoft.Insights/components", "Microsoft.Insights/dataCollectionRules"],
  },
  "f4c81013-99ee-4d62-a7ee-b3f1f648599a": {
    role: "Microsoft Sentinel Automation Contributor",
    // Sentinel checks it on the playbooks' resource group; granted only when the hook found the
    // Azure Security Insights principal.
    scopeTypes: ["resourceGroup"],
  },
  // The alert rules' identities, scoped to the Application Insights component only.
  "acdd72a7-3385-48ef-bd42-f606fba81ae7": {
    role: "Reader",
    scopeTypes: ["Microsoft.Insights/components"],
  },
};
const READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
/** Broader workspace reader (*\/read and search actions) the function's identity must not get. */
const LOG_ANALYTICS_READER = "73c42c96-874c-492b-b04d-ab87d138a893";
const OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR = "b24988ac-6180-42d4-a4c6-ec3dbd97c5d7";

/** Host and platform settings the Bicep sets besides the detection's own (settings.ts). */
const PLATFORM_SETTINGS = [
  "AzureWebJobsStorage__credential",
  "AzureWebJobsStorage__clientId",
  "AzureWebJobsStorage__blobServiceUri",
  "AzureWebJobsStorage__queueServiceUri",
  "AzureWebJobsStorage__tableServiceUri",
  `${QUEUE_CONNECTION}__queueServiceUri`,
  `${QUEUE_CONNECTION}__credential`,
  `${QUEUE_CONNECTION}__clientId`,
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
];

/** Settings Flex Consumption rejects or ignores, and secret-bearing forms this app must not use. */
const FORBIDDEN_SETTINGS = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_CONTENTSHARE",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "SCM_DO_BUILD_DURING_DEPLOYMENT",
  "ENABLE_ORYX_BUILD",
  "AzureWebJobsStorage",
  "APPINSIGHTS_INSTRUMENTATIONKEY",
];

/**
 * Site properties a Flex Consumption app must not set: ARM rejects them ("The following site
 * configuration property (Site.SiteConfig.FtpsState) for Flex Consumption sites is invalid",
 * error 51021) or Flex replaces them with functionAppConfig. Source: Microsoft Learn, "App settings
 * reference for Azure Functions", section "Flex Consumption plan deprecations"
 * (learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations).
 */
const FLEX_REJECTED_SITE_PROPERTIES = [
  "alwaysOn",
  "containerSize",
  "ftpsState",
  "isReserved",
  "isXenon",
  "javaVersion",
  "linuxFxVersion",
  "netFrameworkVersion",
  "powerShellVersion",
  "functionAppScaleLimit",
  "preWarmedInstanceCount",
  "use32BitWorkerProcess",
  "vnetBackupRestoreEnabled",
  "vnetContentShareEnabled",
  "vnetImagePullEnabled",
  "windowsFxVersion",
];

/** main.bicep parameter that feeds each detection setting with a default in settings.ts. */
const SETTING_PARAMETERS: Record<string, string> = {
  LOG_ANALYTICS_ENDPOINT: "logAnalyticsEndpoint",
  LOOKBACK: "lookback",
  INGESTION_SETTLE: "ingestionSettle",
  INCIDENT_GROUPING: "incidentGrouping",
  STATE_TABLE_NAME: "stateTableName",
};

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const LIST_CALL = /\blist[A-Za-z]*\s*\(/i;
const SECRET_NAME =
  /secret|password|passwd|token|credential|connectionstring|(api|access|shared|account|primary|secondary|instrumentation)key|sas(url|uri)?$/i;

let main: JsonObject;

beforeAll(async () => {
  main = await buildMain();
}, 120_000);

function properties(located: Located): JsonObject {
  const value = located.resource.properties;
  if (!isObject(value)) throw new Error(`${text(located.resource.type)} has no properties`);
  return value;
}

function functionApp(): Located {
  return onlyResource(main, "Microsoft.Web/sites");
}

function appSettings(): { name: string; value: string }[] {
  const settings = at(functionApp().resource, "properties", "siteConfig", "appSettings");
  if (!Array.isArray(settings))
    throw new Error("the function app has no literal appSettings array");
  return settings.filter(isObject).map((setting) => ({
    name: text(setting.name),
    value: text(setting.value),
  }));
}

function setting(name: string): string {
  const found = appSettings().find((entry) => entry.name === name);
  if (found === undefined) throw new Error(`app setting ${name} is not set`);
  return found.value;
}

describe("storage account", () => {
  it("allows only Entra authentication over HTTPS with TLS 1.2", () => {
    const storage = properties(onlyResource(main, "Microsoft.Storage/storageAccounts"));
    expect(storage.allowSharedKeyAccess).toBe(false);
    expect(storage.allowBlobPublicAccess).toBe(false);
    expect(storage.minimumTlsVersion).toBe("TLS1_2");
    expect(storage.supportsHttpsTrafficOnly).toBe(true);
  });

  it("has the deployment container (private) and the state table", () => {
    const container = onlyResource(
      main,
      "Microsoft.Storage/storageAccounts/blobServices/containers",
    );
    expect(properties(container).publicAccess).toBe("None");
    expect(
      resourcesOfType(main, "Microsoft.Storage/storageAccounts/tableServices/tables"),
    ).toHaveLength(1);
  });
});

describe("detection queue", () => {
  const queueName = (located: Located): string => text(located.resource.name);

  it("exists with its poison queue, named as the code names them", () => {
    const queues = resourcesOfType(main, "Microsoft.Storage/storageAccounts/queueServices/queues");
    expect(queues.map(queueName).sort()).toEqual(
      [
        "[format('{0}/{1}/{2}', parameters('name'), 'default', parameters('detectionQueueName'))]",
        "[format('{0}/{1}/{2}', parameters('name'), 'default', format('{0}-poison', parameters('detectionQueueName')))]",
      ].sort(),
    );
    const storage = moduleDeployment(main, "storage");
    expect(
      at(storage, "properties", "template", "parameters", "detectionQueueName", "defaultValue"),
    ).toBe(DETECTION_QUEUE_NAME);
    // The host's poison queue is `<queue>-poison`; the code watches that name.
    expect(POISON_QUEUE_NAME).toBe(`${DETECTION_QUEUE_NAME}-poison`);
  });

  it("is reached by the identity through the queue service URI, with no connection string", () => {
    expect(setting(`${QUEUE_CONNECTION}__queueServiceUri`)).toBe("[parameters('queueEndpoint')]");
    expect(setting(`${QUEUE_CONNECTION}__credential`)).toBe("managedidentity");
    expect(setting(`${QUEUE_CONNECTION}__clientId`)).toBe("[parameters('identityClientId')]");
    expect(appSettings().map((entry) => entry.name)).not.toContain(QUEUE_CONNECTION);
    const passed = at(moduleDeployment(main, "functionApp"), "properties", "parameters");
    expect(at(passed, "queueEndpoint", "value")).toBe(
      "[reference('storage').outputs.queueEndpoint.value]",
    );
  });

  it("grants the identity Storage Queue Data Contributor on the two queues only", () => {
    const queueRole = resourcesOfType(main, "Microsoft.Authorization/roleAssignments").filter(
      ({ resource, template }) =>
        inlineVariables(text(at(resource, "properties", "roleDefinitionId")), template).includes(
          "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        ),
    );
    expect(queueRole.map(({ resource }) => text(resource.scope)).sort()).toEqual(
      [
        "[resourceId('Microsoft.Storage/storageAccounts/queueServices/queues', parameters('name'), 'default', parameters('detectionQueueName'))]",
        "[resourceId('Microsoft.Storage/storageAccounts/queueServices/queues', parameters('name'), 'default', format('{0}-poison', parameters('detectionQueueName')))]",
      ].sort(),
    );
    for (const { resource } of queueRole) {
      expect(at(resource, "properties", "principalId")).toBe("[parameters('functionPrincipalId')]");
    }
  });
});

describe("TLS", () => {
  it("requires TLS 1.2 or later wherever a resource sets a minimum", () => {
    const minimums = allResources(main).flatMap((located) =>
      entriesIn(located.resource.properties).filter(([key]) =>
        /^(minimumTlsVersion|(scm)?minTlsVersion)$/i.test(key),
      ),
    );
    // Storage, and the function app's site and SCM endpoints.
    expect(minimums.length).toBeGreaterThanOrEqual(3);
    for (const [key, value] of minimums) {
      expect([key, value]).toEqual([key, expect.stringMatching(/^(TLS1_2|TLS1_3|1\.2|1\.3)$/)]);
    }
  });
});

describe("function app", () => {
  it("is HTTPS only with TLS 1.2 and basic-auth (FTP and SCM) publishing off", () => {
    const site = properties(functionApp());
    expect(site.httpsOnly).toBe(true);
    expect(at(site, "siteConfig", "minTlsVersion")).toBe("1.2");
    const policies = resourcesOfType(
      main,
      "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
    ).map(({ resource }) => [
      /'(\w+)'\)\]$/.exec(text(resource.name))?.[1],
      at(resource, "properties"),
    ]);
    expect(policies.sort()).toEqual([
      ["ftp", { allow: false }],
      ["scm", { allow: false }],
    ]);
  });

  it("sets no site property Flex Consumption rejects (ARM error 51021)", () => {
    const site = properties(functionApp());
    const rejected = new Set(FLEX_REJECTED_SITE_PROPERTIES.map((name) => name.toLowerCase()));
    const found = [
      ...Object.keys(site),
      ...Object.keys(isObject(site.siteConfig) ? site.siteConfig : {}),
    ].filter((key) => rejected.has(key.toLowerCase()));
    expect(found).toEqual([]);
  });

  it("caps maximumInstanceCount within the 40 to 1000 that Flex Consumption accepts", () => {
    const template = at(moduleDeployment(main, "functionApp"), "properties", "template");
    const parameter = at(template, "parameters", "maximumInstanceCount");
    expect(at(parameter, "minValue")).toBe(40);
    expect(at(parameter, "maxValue")).toBe(1000);
    expect(at(parameter, "defaultValue")).toBe(40);
    expect(
      at(functionApp().resource, "properties", "functionAppConfig", "scaleAndConcurrency"),
    ).toEqual(
      expect.objectContaining({ maximumInstanceCount: "[parameters('maximumInstanceCount')]" }),
    );
  });

  it("runs Node 22 on a Flex Consumption (FC1) Linux plan", () => {
    const app = functionApp().resource;
    expect(app.kind).toBe("functionapp,linux");
    expect(at(app, "properties", "functionAppConfig", "runtime")).toEqual({
      name: "node",
      version: "22",
    });
    const plan = onlyResource(main, "Microsoft.Web/serverfarms").resource;
    expect(plan.sku).toEqual({ tier: "FlexConsumption", name: "FC1" });
    expect(at(plan, "properties", "reserved")).toBe(true);
  });

  it("runs as its user-assigned identity for deployment storage, with no Key Vault reference", () => {
    const app = functionApp().resource;
    const identityId = "[parameters('identityId')]";
    expect(at(app, "identity", "type")).toBe("UserAssigned");
    expect(at(app, "properties", "keyVaultReferenceIdentity")).toBeUndefined();
    const deployment = at(app, "properties", "functionAppConfig", "deployment", "storage");
    expect(at(deployment, "type")).toBe("blobContainer");
    expect(at(deployment, "authentication")).toEqual({
      type: "UserAssignedIdentity",
      userAssignedIdentityResourceId: identityId,
    });
  });

  it("carries the azd service tag and every resource the azd environment tag", () => {
    expect(at(functionApp().resource, "tags")).toMatch(/azd-service-name/);
    const mainTags = at(main, "variables", "tags");
    expect(at(mainTags, "azd-env-name")).toBe("[parameters('environmentName')]");
    const taggable = allResources(main).filter(
      ({ resource }) =>
        !text(resource.type).startsWith("Microsoft.Authorization/") &&
        // Extension resources (diagnostic settings, Sentinel rules) take no tags.
        resource.scope === undefined &&
        text(resource.type).split("/").length === 2 &&
        resource.existing !== true &&
        // Extension resources (diagnostic settings) take no tags.
        resource.scope === undefined,
    );
    expect(taggable.length).toBeGreaterThan(0);
    const untagged = taggable.filter(({ resource }) => resource.tags === undefined);
    expect(untagged.map(({ resource }) => resource.type)).toEqual([]);
  });
});

describe("app settings", () => {
  const infraSettings = SETTINGS.filter((spec) => spec.source === "infra").map((spec) => spec.name);

  it("are exactly the settings.ts 'infra' settings plus the platform settings", () => {
    const names = appSettings().map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...infraSettings, ...PLATFORM_SETTINGS].sort());
  });

  it("include none that Flex Consumption rejects or that carries a key", () => {
    const names = appSettings().map((entry) => entry.name);
    expect(names.filter((name) => FORBIDDEN_SETTINGS.includes(name))).toEqual([]);
  });

  it("hold no list*() value and no secret", () => {
    const settings = appSettings();
    expect(settings.length).toBeGreaterThan(0);
    for (const entry of settings) {
      expect([entry.name, entry.value]).toEqual([entry.name, expect.not.stringMatching(LIST_CALL)]);
      expect([entry.name, entry.value]).toEqual([
        entry.name,
        expect.not.stringMatching(/AccountKey=|SharedAccessSignature|[?&]sig=/i),
      ]);
    }
  });

  it("post to the trigger's URL without a signature, with the audience its policy names", () => {
    expect(setting("PLAYBOOK_URL")).toBe("[parameters('playbookUrl')]");
    expect(setting("PLAYBOOK_TOKEN_AUDIENCE")).toBe("[parameters('playbookTokenAudience')]");
    const passed = at(moduleDeployment(main, "functionApp"), "properties", "parameters");
    expect(at(passed, "playbookUrl", "value")).toBe(
      "[reference('playbook').outputs.invokeUrl.value]",
    );
    expect(at(passed, "playbookTokenAudience", "value")).toBe(
      "[reference('playbook').outputs.callerAudience.value]",
    );
    // Microsoft's examples' audience, as the token's aud carries it, and settings.ts's default.
    const playbook = moduleDeployment(main, "playbook");
    expect(
      at(playbook, "properties", "template", "parameters", "callerAudience", "defaultValue"),
    ).toBe("[environment().resourceManager]");
    const audience = SETTINGS.find((entry) => entry.name === "PLAYBOOK_TOKEN_AUDIENCE");
    expect(audience && "default" in audience ? audience.default : "").toBe(
      "https://management.azure.com/",
    );
  });

  it("use the identity's client id for storage, telemetry and Azure Identity", () => {
    const clientId = setting("AZURE_CLIENT_ID");
    expect(clientId).toBe("[parameters('identityClientId')]");
    expect(setting("AzureWebJobsStorage__clientId")).toBe(clientId);
    expect(setting("AzureWebJobsStorage__credential")).toBe("managedidentity");
    expect(setting("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")).toBe(
      "[format('ClientId={0};Authorization=AAD', parameters('identityClientId'))]",
    );
    expect(setting("APPLICATIONINSIGHTS_CONNECTION_STRING")).toMatch(/\.ConnectionString\]$/);
  });

  it("query the workspace by its customer id and the table by its endpoint", () => {
    expect(setting("LOG_ANALYTICS_WORKSPACE_ID")).toBe("[parameters('logAnalyticsWorkspaceId')]");
    const passed = at(moduleDeployment(main, "functionApp"), "properties", "parameters");
    expect(at(passed, "logAnalyticsWorkspaceId", "value")).toBe(
      "[reference('sentinelAccess').outputs.customerId.value]",
    );
    const sentinelAccess = moduleDeployment(main, "sentinelAccess");
    expect(at(sentinelAccess, "properties", "template", "outputs", "customerId", "value")).toMatch(
      /Microsoft\.OperationalInsights\/workspaces.*\.customerId\]$/,
    );
    expect(setting("STATE_TABLE_ENDPOINT")).toMatch(/parameters\('tableEndpoint'\)/);
    expect(at(passed, "tableEndpoint", "value")).toBe(
      "[reference('storage').outputs.tableEndpoint.value]",
    );
  });

  it("default to the values settings.ts documents", () => {
    for (const [name, parameter] of Object.entries(SETTING_PARAMETERS)) {
      const spec = SETTINGS.find((entry) => entry.name === name);
      expect(spec).toBeDefined();
      const fallback = spec !== undefined && "default" in spec ? spec.default : undefined;
      expect([name, at(main, "parameters", parameter, "defaultValue")]).toEqual([name, fallback]);
    }
    expect(at(main, "parameters", "incidentGrouping", "allowedValues")).toEqual([
      "device",
      "run",
      "event",
    ]);
  });
});

describe("no secret to steal", () => {
  it("has no Key Vault: nothing the function reads is a secret any more", () => {
    expect(resourcesOfType(main, "Microsoft.KeyVault/vaults")).toEqual([]);
  });

  it("calls list*() once: the trigger's basePath and api-version, never its signature", () => {
    // main's JSON holds every nested template, so one scan sees every string once. Only ARM
    // expressions ("[...]") count: a Logic App definition's own "@{listCallbackUrl()}" is
    // evaluated by the workflow at run time and returns nothing to the deployment.
    const listCalls = stringsIn(main).filter(
      ([, value]) => /^\[(?!\[)/.test(value) && LIST_CALL.test(value),
    );
    expect(listCalls.map(([trail]) => trail.join("/"))).toEqual([
      "resources/playbook/properties/template/outputs/invokeUrl/value",
    ]);
    const [[, invokeUrl]] = listCalls;
    const reads = [
      ...invokeUrl.matchAll(/listCallbackUrl\(.*?, '[\d-]+'\)(\.\w+(?:\['[^']+'\])?)/g),
    ];
    expect(reads.map((match) => match[1])).toEqual([".basePath", ".queries['api-version']"]);
    expect(invokeUrl).not.toMatch(/\.value|sig|\bsp\b|\bsv\b/);
  });
});

describe("Application Insights", () => {
  it("is workspace-based with local authentication disabled", () => {
    const created = resourcesOfType(main, "Microsoft.Insights/components").filter(
      ({ resource }) => resource.existing !== true,
    );
    expect(created).toHaveLength(1);
    const component = properties(created[0]);
    expect(component.DisableLocalAuth).toBe(true);
    expect(component.WorkspaceResourceId).toMatch(/Microsoft\.OperationalInsights\/workspaces/);
  });
});

describe("role assignments", () => {
  function roleGuid(located: Located): string[] {
    const expression = inlineVariables(
      text(properties(located).roleDefinitionId),
      located.template,
    );
    return expression.match(GUID) ?? [];
  }

  /** Assignments of a custom role declared in the deployment, and the role's definition. */
  function customRoleOf(located: Located): Located | undefined {
    const id = text(properties(located).roleDefinitionId);
    const match = /^\[resourceId\('Microsoft\.Authorization\/roleDefinitions', (.+)\)\]$/.exec(id);
    if (match === null) return undefined;
    const definition = resourcesOfType(main, "Microsoft.Authorization/roleDefinitions").find(
      (candidate) => text(candidate.resource.name) === `[${match[1]}]`,
    );
    return definition;
  }

  it("each grant exactly one allow-listed least-privilege role, or a narrow custom role", () => {
    const assignments = resourcesOfType(main, "Microsoft.Authorization/roleAssignments");
    expect(assignments.length).toBeGreaterThan(0);
    for (const assignment of assignments) {
      const custom = customRoleOf(assignment);
      if (custom !== undefined) {
        // Named actions only: no wildcard, no data actions, assignable in one resource group.
        const permissions = resolveVariables(
          at(custom.resource, "properties", "permissions"),
          custom.template,
        );
        expect(Array.isArray(permissions) && permissions.length).toBe(1);
        const actions = at(Array.isArray(permissions) ? permissions[0] : undefined, "actions");
        expect(Array.isArray(actions) && actions.length).toBeGreaterThan(0);
        for (const action of Array.isArray(actions) ? actions : []) {
          expect(text(action)).not.toContain("*");
        }
        expect(at(custom.resource, "properties", "assignableScopes")).toEqual([
          "[resourceGroup().id]",
        ]);
        expect(properties(assignment).principalType).toBe("ServicePrincipal");
        continue;
      }
      const guids = roleGuid(assignment);
      expect(guids).toHaveLength(1);
      expect(Object.keys(LEAST_PRIVILEGE_ROLES)).toContain(guids[0].toLowerCase());
      expect(properties(assignment).principalType).toBe("ServicePrincipal");
    }
  });

  it("grant every role the detection needs, each on the resource it is for", () => {
    const granted = resourcesOfType(main, "Microsoft.Authorization/roleAssignments")
      .filter((assignment) => customRoleOf(assignment) === undefined)
      .map((assignment) => {
        const guid = roleGuid(assignment)[0].toLowerCase();
        return { guid, scope: text(assignment.resource.scope) };
      });
    // Scoped to the one resource, never to a subscription; to a resource group (no scope) only
    // where the allow-list says so.
    const scopeType = (scope: string) =>
      scope === "" ? "resourceGroup" : (/^\[resourceId\('([^']+)'/.exec(scope)?.[1] ?? scope);
    expect(
      [...new Set(granted.map(({ guid, scope }) => `${guid} on ${scopeType(scope)}`))].sort(),
    ).toEqual(
      Object.entries(LEAST_PRIVILEGE_ROLES)
        .flatMap(([guid, { scopeTypes }]) => scopeTypes.map((type) => `${guid} on ${type}`))
        .sort(),
    );
  });

  it("let the function's identity query the workspace with Log Analytics Data Reader only", () => {
    const detector = resourcesOfType(main, "Microsoft.Authorization/roleAssignments").filter(
      ({ resource }) =>
        at(resource, "properties", "principalId") === "[parameters('detectorPrincipalId')]",
    );
    expect(detector).toHaveLength(1);
    expect(roleGuid(detector[0])).toEqual(["3b03c2da-16b3-4a49-8834-0f8130efdd3b"]);
    expect(JSON.stringify(main).toLowerCase()).not.toContain(LOG_ANALYTICS_READER);
  });

  it("never name Owner or Contributor anywhere", () => {
    const serialized = JSON.stringify(main).toLowerCase();
    expect(serialized).not.toContain(OWNER);
    expect(serialized).not.toContain(CONTRIBUTOR);
  });

  it("on the workspace are deployed where the workspace is", () => {
    const sentinelAccess = moduleDeployment(main, "sentinelAccess");
    const parameterOf = (value: Json | undefined): string => inlineVariables(text(value), main);
    expect(parameterOf(sentinelAccess.subscriptionId)).toMatch(
      /split\(parameters\('sentinelWorkspaceResourceId'\), '\/'\)\)\[2\]/,
    );
    expect(parameterOf(sentinelAccess.resourceGroup)).toMatch(
      /split\(parameters\('sentinelWorkspaceResourceId'\), '\/'\)\)\[4\]/,
    );
  });
});

describe("outputs", () => {
  it("are neither secure nor named like a secret, and call no list*()", () => {
    const outputs = templatesOf(main).flatMap(({ template, path }) =>
      Object.entries(isObject(template.outputs) ? template.outputs : {}).map(([name, output]) => ({
        where: [...path, name].join("/"),
        name,
        output,
      })),
    );
    // main's own and the modules' outputs.
    expect(outputs.length).toBeGreaterThan(Object.keys(at(main, "outputs") as JsonObject).length);
    for (const { where, name, output } of outputs) {
      expect([where, at(output, "type")]).toEqual([where, expect.not.stringMatching(/^secure/i)]);
      expect([where, name]).toEqual([where, expect.not.stringMatching(SECRET_NAME)]);
      // The trigger's unsigned invoke URL is the one exception ("no secret to steal" below).
      if (where === "playbook/invokeUrl") continue;
      expect([where, JSON.stringify(output)]).toEqual([
        where,
        expect.not.stringMatching(LIST_CALL),
      ]);
    }
  });

  it("give azd and the README the names they need", () => {
    expect(Object.keys(at(main, "outputs") as JsonObject)).toEqual(
      expect.arrayContaining(["AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME", "PLAYBOOK_NAME"]),
    );
  });

  it("need only the workspace id as a parameter without a default", () => {
    const parameters = at(main, "parameters") as JsonObject;
    const required = Object.entries(parameters)
      .filter(([, parameter]) => isObject(parameter) && !("defaultValue" in parameter))
      .map(([name]) => name);
    expect(required).toEqual(["sentinelWorkspaceResourceId"]);
    const secureDefaults = Object.values(parameters).filter(
      (parameter) =>
        /^secure/i.test(text(at(parameter, "type"))) && at(parameter, "defaultValue") !== undefined,
    );
    expect(secureDefaults).toEqual([]);
  });
});

/**
 * Timings Azure Monitor accepts for a log search alert rule, in minutes (scheduledQueryRules
 * evaluationFrequency and windowSize; learn.microsoft.com/azure/azure-monitor/alerts/
 * alerts-create-log-alert-rule). The README's own example once used a 20-minute window.
 */
const ALERT_FREQUENCIES = [1, 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440];
const ALERT_WINDOWS = [5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880];

/** Minutes of the day (0..1439) at which a six-field NCRONTAB fires, for the forms used here. */
function firingMinutes(ncrontab: string): number[] {
  const [second, minute, hour, ...rest] = ncrontab.split(" ");
  expect([second, rest]).toEqual(["0", ["*", "*", "*"]]);
  const values = (field: string, size: number): number[] => {
    const step = /^\*\/(\d+)$/.exec(field);
    if (field === "*") return [...Array(size).keys()];
    if (step) return [...Array(size).keys()].filter((v) => v % Number(step[1]) === 0);
    if (/^\d+$/.test(field)) return [Number(field)];
    throw new Error(`unsupported NCRONTAB field ${field}`);
  };
  return values(hour, 24).flatMap((h) => values(minute, 60).map((m) => h * 60 + m));
}

describe("schedule", () => {
  function table(): Record<string, JsonObject> {
    const schedules = at(main, "variables", "schedules");
    if (!isObject(schedules)) throw new Error("main.bicep has no schedules table");
    return Object.fromEntries(
      Object.entries(schedules).map(([period, row]) => [period, row as JsonObject]),
    );
  }

  function allowedPeriods(): number[] {
    const allowed = at(main, "definitions", "schedulePeriod", "allowedValues");
    if (!Array.isArray(allowed)) throw new Error("schedulePeriod has no allowed values");
    return allowed.map(Number).sort((a, b) => a - b);
  }

  it("is one parameter, the period in minutes, bound to SCHEDULE_PERIOD_MINUTES", () => {
    expect(at(main, "parameters", "schedulePeriodMinutes", "$ref")).toBe(
      "#/definitions/schedulePeriod",
    );
    expect(at(main, "parameters", "detectionSchedule")).toBeUndefined();
    expect(at(main, "variables", "schedule")).toBe(
      "[variables('schedules')[string(parameters('schedulePeriodMinutes'))]]",
    );
  });

  it("gives the timer (DETECTION_SCHEDULE) the NCRONTAB of that period", () => {
    expect(
      at(moduleDeployment(main, "functionApp"), "properties", "parameters", "detectionSchedule"),
    ).toEqual({ value: "[variables('schedule').ncrontab]" });
    expect(setting("DETECTION_SCHEDULE")).toBe("[parameters('detectionSchedule')]");
  });

  it("defaults to the period of settings.ts's DETECTION_SCHEDULE default", () => {
    const period = at(main, "parameters", "schedulePeriodMinutes", "defaultValue");
    const spec = SETTINGS.find((entry) => entry.name === "DETECTION_SCHEDULE");
    expect(at(table()[text(period)], "ncrontab")).toBe(
      spec !== undefined && "default" in spec ? spec.default : undefined,
    );
  });

  it("has a row for exactly the periods the parameter allows", () => {
    expect(allowedPeriods().length).toBeGreaterThan(0);
    expect(
      Object.keys(table())
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(allowedPeriods());
  });

  it.each([5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440])(
    "period %i min: the timer fires every period, the alert timings are ones Azure Monitor accepts",
    (period) => {
      expect(allowedPeriods()).toContain(period);
      const row = table()[String(period)];
      const fires = firingMinutes(text(at(row, "ncrontab")));
      const gaps = fires.map(
        (minute, i) => (fires[(i + 1) % fires.length] - minute + 1440) % 1440 || 1440,
      );
      expect(new Set(gaps)).toEqual(new Set([period]));
      const frequency = Number(at(row, "alertFrequencyMinutes"));
      const window = Number(at(row, "alertWindowMinutes"));
      expect(ALERT_FREQUENCIES).toContain(frequency);
      expect(ALERT_WINDOWS).toContain(window);
      // Evaluated at least once per run; one late run alone never fires it.
      expect(frequency).toBeLessThanOrEqual(period);
      expect(window).toBeGreaterThanOrEqual(2 * period);
      expect(window).toBeGreaterThanOrEqual(frequency);
    },
  );

  it("is tested for every period the parameter allows", () => {
    expect(allowedPeriods()).toEqual([5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440]);
  });
});

describe("detection health alerts", () => {
  function rules(): Located[] {
    // The Sentinel-side health rule is sentinel.test.ts's.
    return resourcesOfType(main, "Microsoft.Insights/scheduledQueryRules").filter(
      (located) => located.path.join("/") === "health-alert",
    );
  }

  function rule(displayName: string): Located {
    const found = rules().find(
      ({ resource }) => at(resource, "properties", "displayName") === displayName,
    );
    if (found === undefined) throw new Error(`no alert rule '${displayName}'`);
    return found;
  }

  function query(located: Located): string {
    const criteria = at(located.resource, "properties", "criteria", "allOf");
    const first = Array.isArray(criteria) ? criteria[0] : undefined;
    return text(at(first, "query"));
  }

  const HEALTH = "nbtscan-detector health";
  const DATA = "nbtscan-detector data liveness";

  it("are two rules, both watching the function's Application Insights component", () => {
    expect(
      rules()
        .map(({ resource }) => at(resource, "properties", "displayName"))
        .sort(),
    ).toEqual([DATA, HEALTH]);
    for (const { resource } of rules()) {
      expect(at(resource, "properties", "scopes")).toEqual([
        "[resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))]",
      ]);
    }
    expect(
      at(
        moduleDeployment(main, "healthAlert"),
        "properties",
        "parameters",
        "applicationInsightsName",
        "value",
      ),
    ).toBe("[reference('monitoring').outputs.applicationInsightsName.value]");
  });

  it("fire on failed invocations, on no completed run and on a rule that did not load, by the function's own names", () => {
    const variables = rule(HEALTH).template.variables;
    expect(at(variables, "functionName")).toBe(FUNCTION_NAME);
    expect(at(variables, "completedMessagePrefix")).toBe(RUN_COMPLETED);
    expect(at(variables, "unavailableMessagePrefix")).toBe(DETECTION_UNAVAILABLE);
    expect(query(rule(HEALTH))).toBe(
      "[format(variables('healthQuery'), variables('functionName'), variables('completedMessagePrefix'), variables('unavailableMessagePrefix'))]",
    );
    const kql = text(at(variables, "healthQuery"));
    expect(kql).toMatch(/requests\s*\| where operation_Name == "\{0\}" and success == false/);
    expect(kql).toMatch(/traces\s*\| where message startswith "\{1\}"/);
    expect(kql).toMatch(/traces\s*\| where message startswith "\{2\}"/);
    expect(kql).toMatch(
      /print failed = failedRuns, completed = completedRuns, unavailable = unavailableRules\s*\| where failed > 0 or completed == 0 or unavailable > 0\s*$/,
    );
  });

  it("fire on the function's data-silence line (a silent or missing Defender table)", () => {
    const variables = rule(DATA).template.variables;
    expect(at(variables, "dataSilenceMessagePrefix")).toBe(DATA_SILENCE);
    expect(query(rule(DATA))).toBe(
      "[format(variables('dataQuery'), variables('dataSilenceMessagePrefix'))]",
    );
    expect(text(at(variables, "dataQuery"))).toMatch(/^traces\s*\| where message contains "\{0\}"/);
  });

  it("take their window and frequency from the schedule table, never computed apart", () => {
    const template = rule(HEALTH).template;
    expect(at(template, "variables", "timing")).toBe(
      "[variables('schedules')[string(parameters('schedulePeriodMinutes'))]]",
    );
    expect(at(template, "variables", "schedules")).toEqual(at(main, "variables", "schedules"));
    expect(at(template, "parameters", "schedulePeriodMinutes", "$ref")).toBe(
      "#/definitions/schedulePeriod",
    );
    for (const { resource } of rules()) {
      expect(at(resource, "properties", "evaluationFrequency")).toBe(
        "[variables('evaluationFrequency')]",
      );
      expect(at(resource, "properties", "windowSize")).toBe("[variables('windowSize')]");
    }
    expect(at(template, "variables", "evaluationFrequency")).toBe(
      "[format('PT{0}M', variables('timing').alertFrequencyMinutes)]",
    );
    expect(at(template, "variables", "windowSize")).toBe(
      "[format('PT{0}M', variables('timing').alertWindowMinutes)]",
    );
    expect(
      at(
        moduleDeployment(main, "healthAlert"),
        "properties",
        "parameters",
        "schedulePeriodMinutes",
      ),
    ).toEqual({ value: "[parameters('schedulePeriodMinutes')]" });
  });

  it("notify the addresses in HEALTH_ALERT_EMAILS (comma-separated), bound from azd", () => {
    expect(at(main, "parameters", "healthAlertEmails")).toEqual(
      expect.objectContaining({ type: "string", defaultValue: "" }),
    );
    expect(text(at(main, "variables", "alertEmails"))).toMatch(
      /^\[filter\(map\(split\(parameters\('healthAlertEmails'\), ','\), .*trim.*not\(empty/,
    );
    expect(
      at(moduleDeployment(main, "healthAlert"), "properties", "parameters", "emailReceivers"),
    ).toEqual({ value: "[variables('alertEmails')]" });
    for (const { resource } of rules()) {
      expect(text(at(resource, "properties", "actions", "actionGroups"))).toMatch(
        /^\[if\(empty\(parameters\('emailReceivers'\)\), createArray\(\), createArray\(resourceId\('Microsoft\.Insights\/actionGroups'/,
      );
    }
  });

  it("each run as a system-assigned identity that may read the component, and nothing else", () => {
    for (const { resource, template } of rules()) {
      expect(at(resource, "identity")).toEqual({ type: "SystemAssigned" });
      const symbol = Object.entries(template.resources as JsonObject).find(
        ([, r]) => r === resource,
      )?.[0];
      const grants = resourcesOfType(main, "Microsoft.Authorization/roleAssignments").filter(
        (assignment) =>
          text(at(assignment.resource, "properties", "principalId")) ===
          `[reference('${symbol}', '2026-03-01', 'full').identity.principalId]`,
      );
      expect(grants).toHaveLength(1);
      expect(
        inlineVariables(text(at(grants[0].resource, "properties", "roleDefinitionId")), template),
      ).toContain(READER);
      expect(grants[0].resource.scope).toBe(
        "[resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))]",
      );
    }
  });
});

describe("diagnostic settings", () => {
  function settingsOn(scopeType: string): Located[] {
    return resourcesOfType(main, "Microsoft.Insights/diagnosticSettings").filter(({ resource }) =>
      text(resource.scope).startsWith(`[resourceId('${scopeType}'`),
    );
  }

  function categories(located: Located): string[] {
    const logs = at(located.resource, "properties", "logs");
    return Array.isArray(logs)
      ? logs.filter((log) => at(log, "enabled") === true).map((log) => text(at(log, "category")))
      : [];
  }

  it("send the table service's reads, writes and deletes to the monitoring workspace", () => {
    const table = settingsOn("Microsoft.Storage/storageAccounts/tableServices");
    expect(table).toHaveLength(1);
    expect(categories(table[0]).sort()).toEqual(["StorageDelete", "StorageRead", "StorageWrite"]);
    expect(at(table[0].resource, "properties", "workspaceId")).toBe(
      "[parameters('logAnalyticsWorkspaceId')]",
    );
    expect(
      at(moduleDeployment(main, "storage"), "properties", "parameters", "logAnalyticsWorkspaceId"),
    ).toEqual({ value: "[reference('monitoring').outputs.logAnalyticsWorkspaceId.value]" });
    expect(
      at(
        moduleDeployment(main, "monitoring"),
        "properties",
        "template",
        "outputs",
        "logAnalyticsWorkspaceId",
        "value",
      ),
    ).toBe(
      "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('logAnalyticsName'))]",
    );
  });

  it("are not set on the Flex Consumption app, which does not support them", () => {
    expect(settingsOn("Microsoft.Web/sites")).toEqual([]);
  });
});
