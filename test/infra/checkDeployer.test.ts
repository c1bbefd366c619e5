// The preprovision hook's decisions (infra/hooks/check-deployer.js) on az outputs in the shape the
// CLI prints (test/infra/az/), through its injected runner: no real az runs here.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { checkDeployer, NEEDS, parseWorkspaceId } from "../../infra/hooks/check-deployer";
import { at, REPO_ROOT, text, type JsonObject } from "./bicep";

const AZ = path.join(__dirname, "az");
const recorded = (file: string): unknown =>
  JSON.parse(readFileSync(path.join(AZ, file), "utf8")) as unknown;

const DEPLOYMENT_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555";
const WORKSPACE_GROUP =
  "/subscriptions/99999999-8888-7777-6666-555555555555/resourceGroups/rg-sentinel";
const WORKSPACE_ID = `${WORKSPACE_GROUP}/providers/Microsoft.OperationalInsights/workspaces/law-sentinel`;
const ENV = { SENTINEL_WORKSPACE_ID: WORKSPACE_ID, AZURE_SUBSCRIPTION_ID: DEPLOYMENT_SUBSCRIPTION };

interface Tenant {
  account?: string;
  /** The recorded role list per scope asked about. */
  roles: Record<string, string>;
}

/** An az runner that answers from recorded outputs and notes every call. */
function fakeAz(tenant: Tenant): { az: (args: string[]) => unknown; calls: string[] } {
  const calls: string[] = [];
  const az = (args: string[]): unknown => {
    const command = args.join(" ");
    calls.push(command);
    if (command === "account show -o json") return recorded(tenant.account ?? "account-user.json");
    if (command === "ad signed-in-user show -o json") return recorded("signed-in-user.json");
    if (command === "ad sp show --id 0a1b2c3d-0000-4000-8000-00000000a11c -o json") {
      return recorded("sp-show.json");
    }
    const list =
      /^role assignment list --assignee (\S+) --scope (\S+) --include-inherited --include-groups -o json$/.exec(
        command,
      );
    if (list !== null && tenant.roles[list[2]] !== undefined)
      return recorded(tenant.roles[list[2]]);
    throw new Error(`unexpected az call: az ${command}`);
  };
  return { az, calls };
}

const SUBSCRIPTION_SCOPE = `/subscriptions/${DEPLOYMENT_SUBSCRIPTION}`;

describe("check-deployer: SENTINEL_WORKSPACE_ID", () => {
  const never = () => {
    throw new Error("az must not be asked when the workspace id is wrong");
  };

  it("accepts a full workspace resource id", () => {
    expect(parseWorkspaceId(WORKSPACE_ID)).toEqual({
      subscriptionId: "99999999-8888-7777-6666-555555555555",
      resourceGroup: "rg-sentinel",
      name: "law-sentinel",
    });
  });

  it("stops on the workspace's customer id, saying that is what it is", () => {
    const verdict = checkDeployer(
      { ...ENV, SENTINEL_WORKSPACE_ID: "f3c1a2b4-1111-4222-8333-944455556666" },
      never,
    );
    expect(verdict.error).toMatch(
      /^SENTINEL_WORKSPACE_ID 'f3c1a2b4-1111-4222-8333-944455556666' is a GUID, the workspace's customer id \(Workspace ID\), not its resource id; set the workspace's full resource id: azd env set SENTINEL_WORKSPACE_ID \/subscriptions\//,
    );
    expect(verdict.error).not.toContain("\n");
  });

  it("as azd runs it: exit 1 and one line on stderr, before any az call", () => {
    const result = spawnSync(
      process.execPath,
      [path.join(REPO_ROOT, "infra", "hooks", "check-deployer.js")],
      {
        encoding: "utf8",
        env: { PATH: "", SENTINEL_WORKSPACE_ID: "f3c1a2b4-1111-4222-8333-944455556666" },
      },
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      expect.stringMatching(/^check-deployer: ERROR: SENTINEL_WORKSPACE_ID 'f3c1a2b4-/),
    ]);
  });

  it.each([
    ["unset", undefined, "SENTINEL_WORKSPACE_ID is not set;"],
    ["a resource group", WORKSPACE_GROUP, "is not a Log Analytics workspace resource id"],
    [
      "another resource type",
      `${WORKSPACE_GROUP}/providers/Microsoft.Insights/components/appi`,
      "is not a Log Analytics workspace resource id",
    ],
  ])("stops when it is %s", (_, value, expected) => {
    expect(checkDeployer({ ...ENV, SENTINEL_WORKSPACE_ID: value }, never).error).toContain(
      expected,
    );
  });
});

describe("check-deployer: the deployer's roles", () => {
  it("passes an Owner of both scopes (inherited from the subscriptions)", () => {
    const { az, calls } = fakeAz({
      roles: {
        [SUBSCRIPTION_SCOPE]: "roles-owner-subscription.json",
        [WORKSPACE_GROUP]: "roles-owner-subscription.json",
      },
    });
    expect(checkDeployer(ENV, az)).toEqual({
      note: "alice@contoso.com holds the roles the deployment needs.",
    });
    expect(calls).toContain(
      `role assignment list --assignee aaaaaaaa-0000-4000-8000-00000000a11c --scope ${WORKSPACE_GROUP} --include-inherited --include-groups -o json`,
    );
  });

  it("passes Contributor with User Access Administrator, Owner from a management group or a group", () => {
    const { az } = fakeAz({
      roles: {
        [SUBSCRIPTION_SCOPE]: "roles-contributor-uaa-subscription.json",
        [WORKSPACE_GROUP]: "roles-owner-via-group-workspace-group.json",
      },
    });
    expect(checkDeployer(ENV, az).error).toBeUndefined();
    const fromManagementGroup = fakeAz({
      roles: {
        [SUBSCRIPTION_SCOPE]: "roles-owner-management-group.json",
        [WORKSPACE_GROUP]: "roles-owner-management-group.json",
      },
    });
    expect(checkDeployer(ENV, fromManagementGroup.az).error).toBeUndefined();
  });

  it("stops a Role Based Access Control Administrator: it cannot define the custom role", () => {
    const { az } = fakeAz({
      roles: {
        [SUBSCRIPTION_SCOPE]: "roles-owner-subscription.json",
        [WORKSPACE_GROUP]: "roles-contributor-rbac-admin-workspace-group.json",
      },
    });
    expect(checkDeployer(ENV, az)).toEqual({
      error:
        `alice@contoso.com lacks on the Sentinel workspace's resource group ${WORKSPACE_GROUP}, ` +
        "define a custom role (Microsoft.Authorization/roleDefinitions/write): Owner or User Access Administrator " +
        '(README, "Rights for the account that deploys").',
    });
  });

  it("does not count a role assignment that has a condition", () => {
    const { az } = fakeAz({
      roles: {
        [SUBSCRIPTION_SCOPE]: "roles-owner-subscription.json",
        [WORKSPACE_GROUP]: "roles-contributor-conditioned-uaa-workspace-group.json",
      },
    });
    expect(checkDeployer(ENV, az).error).toContain(
      "define a custom role (Microsoft.Authorization/roleDefinitions/write): Owner or User Access Administrator",
    );
  });

  it("names everything missing on both scopes in one line", () => {
    const { az } = fakeAz({
      roles: {
        [SUBSCRIPTION_SCOPE]: "roles-contributor-subscription.json",
        [WORKSPACE_GROUP]: "roles-reader-workspace-group.json",
      },
    });
    const { error } = checkDeployer(ENV, az);
    expect(error).toBe(
      `alice@contoso.com lacks on the deployment subscription ${SUBSCRIPTION_SCOPE}, ` +
        "assign roles (Microsoft.Authorization/roleAssignments/write): Owner or User Access Administrator or Role Based Access Control Administrator; " +
        `and on the Sentinel workspace's resource group ${WORKSPACE_GROUP}, ` +
        "create resources: Owner or Contributor; " +
        "define a custom role (Microsoft.Authorization/roleDefinitions/write): Owner or User Access Administrator " +
        '(README, "Rights for the account that deploys").',
    );
  });

  it("checks a service principal by its object id", () => {
    const { az, calls } = fakeAz({
      account: "account-sp.json",
      roles: { [SUBSCRIPTION_SCOPE]: "roles-none.json", [WORKSPACE_GROUP]: "roles-none.json" },
    });
    expect(checkDeployer(ENV, az).error).toMatch(
      /^service principal 0a1b2c3d-0000-4000-8000-00000000a11c lacks on the deployment subscription/,
    );
    expect(calls.filter((call) => call.startsWith("role assignment list"))).toEqual([
      expect.stringContaining("--assignee bbbbbbbb-0000-4000-8000-00000000005b"),
      expect.stringContaining("--assignee bbbbbbbb-0000-4000-8000-00000000005b"),
    ]);
  });

  it("warns without stopping when az cannot answer", () => {
    const failing = () => {
      throw Object.assign(new Error("Command failed"), {
        stderr: "ERROR: Please run 'az login' to setup account.\n",
      });
    };
    expect(checkDeployer(ENV, failing)).toEqual({
      warning:
        "could not check the deployer's roles (az: ERROR: Please run 'az login' to setup account.); " +
        'README, "Rights for the account that deploys", lists them.',
    });
  });

  it("skips the role check when told to, never the workspace id", () => {
    const never = () => {
      throw new Error("no az call expected");
    };
    expect(
      checkDeployer({ ...ENV, NBTSCAN_SKIP_RIGHTS_CHECK: "true" }, never).error,
    ).toBeUndefined();
    expect(
      checkDeployer({ NBTSCAN_SKIP_RIGHTS_CHECK: "true", SENTINEL_WORKSPACE_ID: "x" }, never).error,
    ).toContain("is not a Log Analytics workspace resource id");
  });
});

describe("check-deployer: what it asks matches the template and the README", () => {
  it("asks for roleDefinitions/write on the workspace's group because the template defines a role there", () => {
    // sentinel-roles.bicep deploys to the workspace's resource group; its custom role is the one
    // role definition of the whole deployment.
    const bicep = readFileSync(
      path.join(REPO_ROOT, "infra", "modules", "sentinel-roles.bicep"),
      "utf8",
    );
    expect(bicep.match(/Microsoft\.Authorization\/roleDefinitions@/g)).toHaveLength(1);
    expect(NEEDS.workspace.map((need) => need.roles)).toContainEqual([
      "Owner",
      "User Access Administrator",
    ]);
  });

  it("runs first among the preprovision hooks", () => {
    const project = parseYaml(
      readFileSync(path.join(REPO_ROOT, "azure.yaml"), "utf8"),
    ) as JsonObject;
    const hook = at(project, "hooks", "preprovision");
    for (const shell of ["posix", "windows"]) {
      expect(text(at(hook, shell, "run"))).toMatch(/^node infra\/hooks\/check-deployer\.js && /);
    }
  });

  it("is what README's deployer rights say", () => {
    const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("Rights for the account that deploys"));
    for (const need of [...NEEDS.deployment, ...NEEDS.workspace]) {
      for (const role of need.roles) expect(section).toContain(role);
    }
    expect(section).toContain("Microsoft.Authorization/roleDefinitions/write");
  });
});
