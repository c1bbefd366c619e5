// The compiled template for both values of vnetEnabled (azd: VNET_ENABLED): with it, the
// function's storage is off the public internet, reached through private endpoints whose DNS
// zones are linked to the function's virtual network; without it, today's public layout. And
// soft delete on the blobs and containers either way.
import { readFileSync } from "node:fs";
import path from "node:path";
import { evaluate } from "./armExpression";
import {
  at,
  buildMain,
  isObject,
  moduleDeployment,
  onlyResource,
  REPO_ROOT,
  resourcesOfType,
  text,
  type Json,
  type JsonObject,
  type Located,
} from "./bicep";

let main: JsonObject;

/** The first item of an array value. */
function first(value: Json | undefined): Json | undefined {
  return Array.isArray(value) ? value[0] : undefined;
}

beforeAll(async () => {
  main = await buildMain();
});

const STORAGE_SERVICES = ["blob", "table", "queue"];

/** The value main passes a module's parameter, for this vnetEnabled. */
function passed(module: string, parameter: string, vnetEnabled: boolean): Json | undefined {
  const value = at(moduleDeployment(main, module), "properties", "parameters", parameter);
  return at(evaluate(value, { parameters: { vnetEnabled } }), "value");
}

function inNetworkModule(type: string): Located[] {
  return resourcesOfType(main, type).filter(({ path: trail }) => trail[0] === "network");
}

/** A network-module resource's value with its variables (and copy index) resolved. */
function networkValue(located: Located, value: Json | undefined, index = 0): Json | undefined {
  const variables = isObject(located.template.variables) ? located.template.variables : {};
  const services = at(variables, "storageServices");
  const withIndex = JSON.parse(
    JSON.stringify(value ?? null).replace(
      /variables\('storageServices'\)\[copyIndex\(\)\]/g,
      Array.isArray(services) ? `'${text(services[index])}'` : "copyIndex()",
    ),
  ) as Json;
  return evaluate(withIndex, { parameters: { name: "vnet-x" }, variables });
}

describe.each([true, false])("with vnetEnabled %s", (vnetEnabled) => {
  it(vnetEnabled ? "deploys the network module" : "deploys no network", () => {
    const condition = at(moduleDeployment(main, "network"), "condition");
    expect(evaluate(condition, { parameters: { vnetEnabled } })).toBe(vnetEnabled);
  });

  it(
    vnetEnabled
      ? "turns the storage account's public network access off, denying every network"
      : "leaves the storage account reachable from any network (trials only), Entra-only still",
    () => {
      const account = onlyResource(main, "Microsoft.Storage/storageAccounts");
      const scope = {
        parameters: { vnetEnabled: passed("storage", "vnetEnabled", vnetEnabled) ?? null },
      };
      const properties = evaluate(at(account.resource, "properties"), scope);
      expect(at(properties, "publicNetworkAccess")).toBe(vnetEnabled ? "Disabled" : "Enabled");
      expect(at(properties, "networkAcls")).toEqual(
        vnetEnabled
          ? { bypass: "None", defaultAction: "Deny" }
          : { bypass: "AzureServices", defaultAction: "Allow" },
      );
      expect(at(properties, "allowSharedKeyAccess")).toBe(false);
    },
  );

  it(
    vnetEnabled
      ? "integrates the function app with the network's app subnet"
      : "leaves the function app out of any network",
    () => {
      const subnet = passed("functionApp", "virtualNetworkSubnetId", vnetEnabled);
      expect(subnet).toBe(vnetEnabled ? "reference('network').outputs.appSubnetId" + ".value" : "");
      const site = onlyResource(main, "Microsoft.Web/sites");
      expect(
        evaluate(at(site.resource, "properties", "virtualNetworkSubnetId"), {
          parameters: { virtualNetworkSubnetId: subnet ?? null },
        }),
      ).toBe(vnetEnabled ? subnet : null);
    },
  );
});

describe("the network (vnetEnabled)", () => {
  const vnet = () => {
    const found = inNetworkModule("Microsoft.Network/virtualNetworks");
    expect(found).toHaveLength(1);
    return found[0];
  };
  const subnets = () => {
    const value = networkValue(vnet(), at(vnet().resource, "properties", "subnets"));
    return Array.isArray(value) ? value : [];
  };

  it("has the app subnet delegated to Microsoft.App/environments, as Flex Consumption needs", () => {
    const module = moduleDeployment(main, "network");
    const outputs = at(module, "properties", "template", "outputs");
    expect(text(at(outputs, "appSubnetId", "value"))).toContain("variables('appSubnetName')");
    const app = subnets().find((subnet) => at(subnet, "name") === "app");
    expect(at(app, "properties", "delegations")).toEqual([
      { name: "flex-consumption", properties: { serviceName: "Microsoft.App/environments" } },
    ]);
  });

  it("has a private-endpoint subnet apart from the app's", () => {
    expect(subnets().map((subnet) => at(subnet, "name"))).toEqual(["private-endpoints", "app"]);
  });

  it("puts a private endpoint for blob, table and queue on the storage account, in that subnet", () => {
    const [endpoints] = inNetworkModule("Microsoft.Network/privateEndpoints");
    const connections = STORAGE_SERVICES.map((_, i) =>
      networkValue(endpoints, at(endpoints.resource, "properties"), i),
    );
    expect(
      connections.map((p) =>
        at(first(at(p, "privateLinkServiceConnections")), "properties", "groupIds"),
      ),
    ).toEqual(STORAGE_SERVICES.map((service) => [service]));
    for (const properties of connections) {
      expect(
        text(
          at(
            first(at(properties, "privateLinkServiceConnections")),
            "properties",
            "privateLinkServiceId",
          ),
        ),
      ).toContain("Microsoft.Storage/storageAccounts");
      expect(text(at(properties, "subnet", "id"))).toContain(
        "variables('privateEndpointSubnetName')",
      );
    }
    expect(at(endpoints.resource, "copy", "count")).toBe("[length(variables('storageServices'))]");
    expect(at(endpoints.template, "variables", "storageServices")).toEqual(STORAGE_SERVICES);
  });

  it("gives each endpoint its privatelink DNS zone, linked to the network", () => {
    const [zones] = inNetworkModule("Microsoft.Network/privateDnsZones");
    expect(STORAGE_SERVICES.map((_, i) => networkValue(zones, zones.resource.name, i))).toEqual(
      STORAGE_SERVICES.map(
        (service) => `format('privatelink.{0}.{1}', '${service}', environment().suffixes.storage)`,
      ),
    );
    const [links] = inNetworkModule("Microsoft.Network/privateDnsZones/virtualNetworkLinks");
    expect(at(links.resource, "properties", "registrationEnabled")).toBe(false);
    expect(text(at(links.resource, "properties", "virtualNetwork", "id"))).toContain(
      "Microsoft.Network/virtualNetworks",
    );
    const [groups] = inNetworkModule("Microsoft.Network/privateEndpoints/privateDnsZoneGroups");
    expect(
      text(
        at(
          first(at(groups.resource, "properties", "privateDnsZoneConfigs")),
          "properties",
          "privateDnsZoneId",
        ),
      ),
    ).toContain("Microsoft.Network/privateDnsZones");
    for (const located of [links, groups]) {
      expect(at(located.resource, "copy", "count")).toBe("[length(variables('storageServices'))]");
    }
  });

  it("is on by default, and azd binds it to VNET_ENABLED", () => {
    expect(at(main, "parameters", "vnetEnabled")).toMatchObject({
      type: "bool",
      defaultValue: true,
    });
    const parameters = JSON.parse(
      readFileSync(path.join(REPO_ROOT, "infra", "main.parameters.json"), "utf8"),
    ) as JsonObject;
    expect(at(parameters, "parameters", "vnetEnabled", "value")).toBe("${VNET_ENABLED=true}");
  });
});

describe("soft delete", () => {
  it("keeps deleted blobs and containers restorable", () => {
    const service = onlyResource(main, "Microsoft.Storage/storageAccounts/blobServices");
    const properties = evaluate(at(service.resource, "properties"), {
      parameters: { softDeleteRetentionDays: 7 },
    });
    for (const policy of ["deleteRetentionPolicy", "containerDeleteRetentionPolicy"]) {
      expect(at(properties, policy)).toEqual({ enabled: true, days: 7 });
    }
    expect(at(service.template, "parameters", "softDeleteRetentionDays")).toMatchObject({
      defaultValue: 7,
      minValue: 1,
      maxValue: 365,
    });
  });
});
