// The azd project: azure.yaml names the service the Bicep tags, and infra/main.parameters.json
// binds only parameters main.bicep declares, with the same defaults.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { at, buildMain, isObject, REPO_ROOT, text, type Json, type JsonObject } from "./bicep";

let main: JsonObject;

beforeAll(async () => {
  main = await buildMain();
}, 120_000);

function readJson(relative: string): Json {
  return JSON.parse(readFileSync(path.join(REPO_ROOT, relative), "utf8")) as Json;
}

describe("azure.yaml", () => {
  const project = parse(readFileSync(path.join(REPO_ROOT, "azure.yaml"), "utf8")) as Json;

  it("is the nbtscan-detector project with Bicep in infra/", () => {
    expect(at(project, "name")).toBe("nbtscan-detector");
    expect(at(project, "infra", "provider")).toBe("bicep");
    expect(at(project, "infra", "path")).toBe("infra");
    expect(at(project, "infra", "module")).toBe("main");
  });

  it("deploys the repository root as one TypeScript function service", () => {
    const services = at(project, "services");
    expect(isObject(services) ? Object.keys(services) : []).toEqual(["detector"]);
    expect(at(services, "detector")).toEqual({ project: ".", language: "ts", host: "function" });
  });

  it("names the service as the function app's azd-service-name tag does", () => {
    const site = at(main, "resources", "functionApp", "properties", "template", "resources");
    const tags = Array.isArray(site)
      ? site.filter(isObject).find((resource) => resource.type === "Microsoft.Web/sites")?.tags
      : undefined;
    expect(tags).toBe(
      "[union(parameters('tags'), createObject('azd-service-name', parameters('serviceName')))]",
    );
    expect(at(main, "resources", "functionApp", "properties", "parameters", "serviceName")).toEqual(
      {
        value: "[variables('serviceName')]",
      },
    );
    const services = at(project, "services");
    expect(isObject(services) ? Object.keys(services) : []).toEqual([
      at(main, "variables", "serviceName"),
    ]);
  });
});

describe("infra/main.parameters.json", () => {
  const file = readJson(path.join("infra", "main.parameters.json"));
  const bound = at(file, "parameters");
  const entries = isObject(bound) ? Object.entries(bound) : [];

  it("binds only parameters main.bicep declares", () => {
    const declared = Object.keys(at(main, "parameters") as JsonObject);
    expect(entries.length).toBeGreaterThan(0);
    for (const [name] of entries) expect(declared).toContain(name);
  });

  it("binds the environment name, the location and the workspace id from azd", () => {
    expect(at(bound, "environmentName", "value")).toBe("${AZURE_ENV_NAME}");
    expect(at(bound, "location", "value")).toBe("${AZURE_LOCATION}");
    expect(at(bound, "sentinelWorkspaceResourceId", "value")).toBe("${SENTINEL_WORKSPACE_ID}");
  });

  it("falls back to main.bicep's own defaults when an azd variable is unset", () => {
    for (const [name, parameter] of entries) {
      const value = text(at(parameter, "value"));
      const fallback = /^\$\{[A-Z0-9_]+=(.*)\}$/.exec(value);
      if (fallback === null) continue;
      expect([name, fallback[1]]).toEqual([
        name,
        text(at(main, "parameters", name, "defaultValue")),
      ]);
    }
  });
});
