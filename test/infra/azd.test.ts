// The azd project: azure.yaml names the service the Bicep tags and deploys a production-only
// package, and infra/main.parameters.json binds only parameters main.bicep declares, with the same
// defaults.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
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

const CHECK_ALERTING = path.join(REPO_ROOT, "infra", "hooks", "check-alerting.js");

/** Runs the preprovision hook with only the given alerting variables set. */
function runCheck(env: Record<string, string>): SpawnSyncReturns<string> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        ![
          "HEALTH_ALERT_EMAILS",
          "DETECTION_SCHEDULE",
          "EXCLUSIONS",
          "EXCLUSIONS_FILE",
          "EXCLUSIONS_WATCHLIST",
        ].includes(name),
    ),
  );
  return spawnSync(process.execPath, [CHECK_ALERTING], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { ...inherited, ...env },
  });
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

  it("binds the schedule period and the alert recipients from azd", () => {
    expect(at(bound, "schedulePeriodMinutes", "value")).toBe("${SCHEDULE_PERIOD_MINUTES=5}");
    expect(at(bound, "healthAlertEmails", "value")).toBe("${HEALTH_ALERT_EMAILS}");
    // The timer is derived from the period; a second binding could contradict it.
    expect(at(bound, "detectionSchedule")).toBeUndefined();
    // azd converts "5" to a number for an int parameter but passes a string as it is, so the
    // recipients are one comma-separated string, not an array.
    expect(at(main, "parameters", "healthAlertEmails", "type")).toBe("string");
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

describe("README's azd parameters", () => {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const bound = at(readJson(path.join("infra", "main.parameters.json")), "parameters");
  const rows = readme
    .slice(readme.indexOf("<!-- azd-parameters:start"), readme.indexOf("<!-- azd-parameters:end"))
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) =>
      line
        .slice(1, -1)
        .split("|")
        .map((cell) => cell.trim().replace(/^`|`$/g, "")),
    );

  it("list every azd variable main.parameters.json binds, with its parameter and default", () => {
    const documented = rows.map(([variable, parameter, fallback]) => [
      variable,
      parameter,
      fallback,
    ]);
    const optional = Object.entries(isObject(bound) ? bound : {}).flatMap(([parameter, entry]) => {
      const binding = /^\$\{([A-Z0-9_]+)(?:=(.*))?\}$/.exec(text(at(entry, "value")));
      if (binding === null) return [];
      // The three azd asks for (or sets) itself are documented in the steps above the table.
      if (["AZURE_ENV_NAME", "AZURE_LOCATION", "SENTINEL_WORKSPACE_ID"].includes(binding[1]))
        return [];
      return [[binding[1], parameter, binding[2] ?? "empty"]];
    });
    expect(optional.length).toBeGreaterThan(0);
    expect(documented.sort()).toEqual(optional.sort());
  });

  it("give examples the deployment accepts", async () => {
    const main = await buildMain();
    const allowed = at(main, "definitions", "schedulePeriod", "allowedValues");
    const periods = [
      ...readme.matchAll(/azd env set SCHEDULE_PERIOD_MINUTES (\d+)|schedulePeriodMinutes=(\d+)/g),
    ].map((match) => Number(match[1] ?? match[2]));
    expect(periods.length).toBeGreaterThanOrEqual(2);
    for (const period of periods) expect(allowed).toContain(period);
    const emails = [
      ...readme.matchAll(/azd env set HEALTH_ALERT_EMAILS (\S+)|healthAlertEmails=(\S+)/g),
    ];
    expect(emails.length).toBeGreaterThanOrEqual(2);
    for (const match of emails) {
      const result = runCheck({ HEALTH_ALERT_EMAILS: match[1] ?? match[2] });
      expect([match[0], result.status, result.stderr]).toEqual([match[0], 0, ""]);
    }
  }, 120_000);
});

describe("alert recipients check (preprovision hook)", () => {
  it("runs before provisioning, on POSIX and on Windows", () => {
    const hook = at(project, "hooks", "preprovision");
    // After the deployer's rights (checkDeployer.test.ts), before the Sentinel automation
    // principal's lookup (sentinel.test.ts).
    const run =
      "node infra/hooks/check-deployer.js && node infra/hooks/check-alerting.js && node infra/hooks/security-insights-principal.js";
    expect(at(hook, "posix")).toEqual({ shell: "sh", run });
    expect(at(hook, "windows")).toEqual({ shell: "pwsh", run });
  });

  it("warns loudly, without stopping, when nobody will be notified", () => {
    const result = runCheck({});
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(
      "WARNING: HEALTH_ALERT_EMAILS is not set: the detection's health and data-liveness alerts will notify NOBODY.",
    );
    expect(result.stderr).toContain("azd env set HEALTH_ALERT_EMAILS soc@example.com");
    expect(runCheck({ HEALTH_ALERT_EMAILS: " , " }).stderr).toContain("notify NOBODY");
  });

  it("names who will be notified", () => {
    const result = runCheck({ HEALTH_ALERT_EMAILS: "soc@example.com, oncall@example.org" });
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("will email: soc@example.com, oncall@example.org.");
  });

  it("stops on an address the action group would reject, naming it", () => {
    const result = runCheck({ HEALTH_ALERT_EMAILS: "soc@example.com; SOC Team <soc@example.com>" });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "ERROR: HEALTH_ALERT_EMAILS: 'soc@example.com; SOC Team <soc@example.com>' is not an email address",
    );
  });

  it.each(["EXCLUSIONS", "EXCLUSIONS_FILE"])(
    "stops when %s is set, which the deployment would ignore, saying how to pass the document",
    (name) => {
      const result = runCheck({ HEALTH_ALERT_EMAILS: "soc@example.com", [name]: "exclusions: []" });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`ERROR: ${name} is set in the azd environment`);
      expect(result.stderr).toContain(
        `azd env set EXCLUSIONS_BASE64 "$(base64 < exclusions.yaml | tr -d '\\n')"`,
      );
    },
  );

  it("stops on an EXCLUSIONS_WATCHLIST the function would refuse, and accepts the default's form", () => {
    const bad = runCheck({
      HEALTH_ALERT_EMAILS: "soc@example.com",
      EXCLUSIONS_WATCHLIST: "soc list",
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("EXCLUSIONS_WATCHLIST: 'soc list' is not a watchlist alias");
    const good = runCheck({
      HEALTH_ALERT_EMAILS: "soc@example.com",
      EXCLUSIONS_WATCHLIST: "nbtscan-exclusions",
    });
    expect(good.status).toBe(0);
  });

  it("stops when DETECTION_SCHEDULE is set, naming the periods main.bicep allows instead", async () => {
    const main = await buildMain();
    const allowed = at(main, "definitions", "schedulePeriod", "allowedValues");
    const periods = Array.isArray(allowed) ? allowed.map(Number).sort((a, b) => a - b) : [];
    const result = runCheck({
      HEALTH_ALERT_EMAILS: "soc@example.com",
      DETECTION_SCHEDULE: "0 */15 * * * *",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("DETECTION_SCHEDULE is set in the azd environment");
    const listed = /SCHEDULE_PERIOD_MINUTES \(([^)]*)\)/.exec(text(result.stderr));
    expect(listed?.[1].split(/, | or /).map(Number)).toEqual(periods);
  }, 120_000);
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
