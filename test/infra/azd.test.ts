// The azd project: azure.yaml names the service the Bicep tags and deploys a production-only
// package, and infra/main.parameters.json binds only parameters main.bicep declares, with the same
// defaults.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import {
  at,
  buildMain,
  isObject,
  moduleDeployment,
  onlyResource,
  REPO_ROOT,
  text,
  type Json,
  type JsonObject,
} from "./bicep";

let main: JsonObject;
const project = parse(readFileSync(path.join(REPO_ROOT, "azure.yaml"), "utf8")) as Json;

beforeAll(async () => {
  main = await buildMain();
}, 120_000);

function readJson(relative: string): Json {
  return JSON.parse(readFileSync(path.join(REPO_ROOT, relative), "utf8")) as Json;
}

describe("azure.yaml", () => {
  it("is the nbtscan-detector project with Bicep in infra/", () => {
    expect(at(project, "name")).toBe("nbtscan-detector");
    expect(at(project, "infra", "provider")).toBe("bicep");
    expect(at(project, "infra", "path")).toBe("infra");
    expect(at(project, "infra", "module")).toBe("main");
  });

  it("deploys the repository root as one TypeScript function service", () => {
    const services = at(project, "services");
    expect(isObject(services) ? Object.keys(services) : []).toEqual(["detector"]);
    expect(at(services, "detector", "project")).toBe(".");
    expect(at(services, "detector", "language")).toBe("ts");
    expect(at(services, "detector", "host")).toBe("function");
  });

  it("names the service as the function app's azd-service-name tag does", () => {
    expect(onlyResource(main, "Microsoft.Web/sites").resource.tags).toBe(
      "[union(parameters('tags'), createObject('azd-service-name', parameters('serviceName')))]",
    );
    expect(
      at(moduleDeployment(main, "functionApp"), "properties", "parameters", "serviceName"),
    ).toEqual({
      value: "[variables('serviceName')]",
    });
    const services = at(project, "services");
    expect(isObject(services) ? Object.keys(services) : []).toEqual([
      at(main, "variables", "serviceName"),
    ]);
  });
});

describe("azd version", () => {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");

  it("is at least 1.25.0, the first that asks before deleting the workspace's resource group", () => {
    // 1.23.12 to 1.24 took every resource group of the deployment's resources as their own, so
    // `azd down --purge` could purge the Sentinel workspace (azure-dev #7698, #7998).
    expect(at(project, "requiredVersions", "azd")).toBe(">= 1.25.0");
  });

  it("is the version the README's prerequisites name", () => {
    const required = /^>= (\d+\.\d+\.\d+)$/.exec(text(at(project, "requiredVersions", "azd")));
    expect(required).not.toBeNull();
    expect(readme).toContain(`\`azd\` ${required?.[1]} or later is required`);
  });

  it("names the releases that honour remoteBuild and check .funcignore correctly", () => {
    const yaml = readFileSync(path.join(REPO_ROOT, "azure.yaml"), "utf8");
    expect(yaml).toMatch(/1\.23\.5 and later honour `remoteBuild`[^]*#6748/);
    expect(yaml).toMatch(/1\.23\.12 added the check\s+# against \.funcignore/);
  });

  it("is matched by a README that does not promise azd down leaves the workspace's group alone", () => {
    const tearDown = readme.slice(
      readme.indexOf("### Tear down"),
      readme.indexOf("## Project layout"),
    );
    expect(tearDown.length).toBeGreaterThan(0);
    expect(tearDown).not.toMatch(/does not touch/);
    // It warns that azd lists the workspace's group and tells the reader to keep it.
    expect(tearDown).toMatch(/answer \*\*no\*\*/i);
    expect(tearDown).toContain("--force");
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
    const fallbacks = entries.flatMap(([name, parameter]) => {
      const fallback = /^\$\{[A-Z0-9_]+=(.*)\}$/.exec(text(at(parameter, "value")));
      return fallback === null ? [] : [[name, fallback[1]]];
    });
    expect(fallbacks.length).toBeGreaterThan(0);
    for (const [name, fallback] of fallbacks) {
      expect([name, fallback]).toEqual([name, text(at(main, "parameters", name, "defaultValue"))]);
    }
  });
});

describe("deployment package", () => {
  const service = at(project, "services", "detector");
  const HOOK = "node infra/hooks/stage-package.js";

  it("is the staged dist/package, deployed as it is rather than built again on Azure", () => {
    expect(at(service, "dist")).toBe("dist/package");
    expect(at(service, "remoteBuild")).toBe(false);
  });

  it("is staged by the prepackage hook, on POSIX and on Windows", () => {
    const hook = at(service, "hooks", "prepackage");
    expect(at(hook, "posix")).toEqual({ shell: "sh", run: HOOK });
    expect(at(hook, "windows")).toEqual({ shell: "pwsh", run: HOOK });
    expect(existsSync(path.join(REPO_ROOT, "infra", "hooks", "stage-package.js"))).toBe(true);
  });

  it("keeps node_modules in .funcignore, which azd requires with remoteBuild: false", () => {
    const patterns = readFileSync(path.join(REPO_ROOT, ".funcignore"), "utf8")
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    expect(patterns.filter((line) => /^\/?node_modules(\/.*)?$/.test(line))).toEqual([]);
    // A publish from the project root leaves the staged copy out.
    expect(patterns).toContain("/dist/package/");
  });

  // What the hook stages, and that the staged package runs: test/infra/stage-package.test.ts.
});
