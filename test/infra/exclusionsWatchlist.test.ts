// The exclusions watchlist as the compiled template creates it (infra/modules/exclusions-watchlist
// .bicep), the settings that point the function at it, and the azd variables that carry
// exclusions to production.
import { readFileSync } from "node:fs";
import path from "node:path";
import { EXCLUSIONS_WATCHLIST } from "../../functions/triage/watchlist";
import {
  at,
  buildMain,
  inlineVariables,
  isObject,
  moduleDeployment,
  onlyResource,
  REPO_ROOT,
  resolveVariables,
  text,
  type JsonObject,
} from "./bicep";

let main: JsonObject;

beforeAll(async () => {
  main = await buildMain();
}, 120_000);

function appSetting(name: string): string {
  const app = onlyResource(main, "Microsoft.Web/sites").resource;
  const settings = at(app, "properties", "siteConfig", "appSettings");
  const found = (Array.isArray(settings) ? settings : []).find(
    (entry) => isObject(entry) && entry.name === name,
  );
  if (!isObject(found)) throw new Error(`app setting ${name} is not set`);
  return text(found.value);
}

describe("the exclusions watchlist", () => {
  it("is a Sentinel watchlist on the workspace, at the GA api-version, deployed where the workspace is", () => {
    const { resource } = onlyResource(main, "Microsoft.SecurityInsights/watchlists");
    expect(resource.apiVersion).toBe("2025-09-01");
    expect(text(resource.scope)).toMatch(
      /^\[resourceId\('Microsoft\.OperationalInsights\/workspaces', parameters\('workspaceName'\)\)\]$/,
    );
    expect(resource.name).toBe("[parameters('alias')]");
    const module = moduleDeployment(main, "exclusionsWatchlist");
    const inline = (value: unknown): string => inlineVariables(text(value as string), main);
    expect(inline(module.subscriptionId)).toMatch(/parameters\('sentinelWorkspaceResourceId'\)/);
    expect(inline(module.resourceGroup)).toMatch(/parameters\('sentinelWorkspaceResourceId'\)/);
  });

  it("has Name as its search key, no CSV content, and the template row of exclusions-watchlist.json as its one item", () => {
    const { resource, template } = onlyResource(main, "Microsoft.SecurityInsights/watchlists");
    const properties = resource.properties as JsonObject;
    // The contract file, as loadJsonContent put it into the module's variables.
    const contract = resolveVariables(
      resolveVariables("[variables('contract')]", template),
      template,
    );
    expect(contract).toEqual(
      JSON.parse(
        readFileSync(
          path.join(REPO_ROOT, "functions", "triage", "exclusions-watchlist.json"),
          "utf8",
        ),
      ),
    );
    expect(properties.itemsSearchKey).toBe("[variables('contract').searchKey]");
    // A header-only CSV is refused, and content on a redeployment would bulk-write the items.
    expect(properties.rawContent).toBeUndefined();
    expect(properties.contentType).toBeUndefined();
    const item = onlyResource(main, "Microsoft.SecurityInsights/watchlists/watchlistItems");
    expect(item.resource.apiVersion).toBe("2025-09-01");
    expect(at(item.resource, "properties", "itemsKeyValue")).toBe(
      "[variables('contract').templateRow]",
    );
    expect(EXCLUSIONS_WATCHLIST.columns[0]).toBe(EXCLUSIONS_WATCHLIST.searchKey);
    expect(properties).toMatchObject({
      provider: "nbtscan-detector",
      sourceType: "Local",
      watchlistAlias: "[parameters('alias')]",
    });
    expect(text(properties.displayName)).not.toBe("");
  });

  it("is what the function reads: EXCLUSIONS_WATCHLIST is its alias, nbtscan-exclusions unless azd says otherwise", () => {
    expect(appSetting("EXCLUSIONS_WATCHLIST")).toBe("[parameters('exclusionsWatchlist')]");
    const passed = at(moduleDeployment(main, "functionApp"), "properties", "parameters");
    expect(at(passed, "exclusionsWatchlist", "value")).toBe(
      "[reference('exclusionsWatchlist').outputs.alias.value]",
    );
    expect(at(main, "parameters", "exclusionsWatchlistAlias", "defaultValue")).toBe(
      "nbtscan-exclusions",
    );
  });
});

describe("exclusions through azd", () => {
  const parameters = JSON.parse(
    readFileSync(path.join(REPO_ROOT, "infra", "main.parameters.json"), "utf8"),
  ) as { parameters: Record<string, { value: string }> };

  it("carry the document base64-encoded from EXCLUSIONS_BASE64 into the EXCLUSIONS app setting", () => {
    expect(parameters.parameters.exclusionsBase64.value).toBe("${EXCLUSIONS_BASE64}");
    expect(at(main, "parameters", "exclusionsBase64", "defaultValue")).toBe("");
    expect(appSetting("EXCLUSIONS")).toBe("[parameters('exclusions')]");
    const passed = at(moduleDeployment(main, "functionApp"), "properties", "parameters");
    expect(at(passed, "exclusions", "value")).toBe(
      "[base64ToString(parameters('exclusionsBase64'))]",
    );
  });

  it("bind the watchlist's alias to EXCLUSIONS_WATCHLIST with the same default", () => {
    expect(parameters.parameters.exclusionsWatchlistAlias.value).toBe(
      "${EXCLUSIONS_WATCHLIST=nbtscan-exclusions}",
    );
  });
});
