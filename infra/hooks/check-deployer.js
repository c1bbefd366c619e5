#!/usr/bin/env node
// azd preprovision hook (azure.yaml): before anything is deployed, checks SENTINEL_WORKSPACE_ID's
// shape and that the signed-in account holds the roles the deployment needs, and stops with one
// line naming what is missing. README, "Rights for the account that deploys", says the same.
//
// What the template does, and so what it needs (role names as in "Azure built-in roles",
// learn.microsoft.com/azure/role-based-access-control/built-in-roles):
//   on the deployment subscription (AZURE_SUBSCRIPTION_ID): it creates the resource group rg-<env>
//     and its resources (Owner or Contributor) and role assignments in that group, for the
//     function's identity and Sentinel's automation (Owner, User Access Administrator or Role
//     Based Access Control Administrator: Microsoft.Authorization/roleAssignments/write);
//   on the Sentinel workspace's resource group: the alert table, its DCR and the Sentinel rules
//     (Owner or Contributor), role assignments on the workspace and the DCR, and one custom role
//     definition, the evidence playbook's (sentinel-roles.bicep), which needs
//     Microsoft.Authorization/roleDefinitions/write: Owner or User Access Administrator; Role
//     Based Access Control Administrator has roleAssignments/write only.
// A role held at a parent scope (subscription, management group) or through a group counts; a role
// assignment with a condition does not (its condition may not allow these assignments).
//
// It asks the Azure CLI (az account show, az ad signed-in-user show / az ad sp show, az role
// assignment list). When az cannot answer (not installed, not signed in), it cannot check and says
// so without stopping: azd signs in on its own, and the deployment then fails on a missing right.
// NBTSCAN_SKIP_RIGHTS_CHECK=true skips the role check (rights through a custom role it cannot judge).
const { execFileSync } = require("node:child_process");
const process = require("node:process");

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const WORKSPACE_ID =
  /^\/subscriptions\/([0-9a-f-]{36})\/resourceGroups\/([^/]+)\/providers\/Microsoft\.OperationalInsights\/workspaces\/([^/]+)$/i;

/** What each scope needs: every entry is one right, held through any of its roles. */
const NEEDS = {
  deployment: [
    { right: "create resources", roles: ["Owner", "Contributor"] },
    {
      right: "assign roles (Microsoft.Authorization/roleAssignments/write)",
      roles: ["Owner", "User Access Administrator", "Role Based Access Control Administrator"],
    },
  ],
  workspace: [
    { right: "create resources", roles: ["Owner", "Contributor"] },
    {
      right: "define a custom role (Microsoft.Authorization/roleDefinitions/write)",
      roles: ["Owner", "User Access Administrator"],
    },
  ],
};

/**
 * The shape check of SENTINEL_WORKSPACE_ID: its parts, or the one line saying what is wrong.
 * @param {string | undefined} value
 * @returns {{ subscriptionId: string, resourceGroup: string, name: string } | { problem: string }}
 */
function parseWorkspaceId(value) {
  const text = (value ?? "").trim();
  const how =
    "set the workspace's full resource id: azd env set SENTINEL_WORKSPACE_ID " +
    "/subscriptions/<sub-id>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name> " +
    "(az monitor log-analytics workspace show -g <rg> -n <name> --query id -o tsv)";
  if (text === "") return { problem: `SENTINEL_WORKSPACE_ID is not set; ${how}.` };
  if (GUID.test(text)) {
    return {
      problem: `SENTINEL_WORKSPACE_ID '${text}' is a GUID, the workspace's customer id (Workspace ID), not its resource id; ${how}.`,
    };
  }
  const match = WORKSPACE_ID.exec(text);
  if (match === null) {
    return {
      problem: `SENTINEL_WORKSPACE_ID '${text}' is not a Log Analytics workspace resource id; ${how}.`,
    };
  }
  return { subscriptionId: match[1], resourceGroup: match[2], name: match[3] };
}

/**
 * Runs `az` with these arguments and parses its JSON output.
 * @callback AzRunner
 * @param {string[]} args
 * @returns {unknown}
 */

/** The object id and a name of the signed-in principal. */
function signedInPrincipal(az) {
  const account = /** @type {{ user?: { name?: string, type?: string } }} */ (
    az(["account", "show", "-o", "json"])
  );
  const user = account.user ?? {};
  if (user.type === "servicePrincipal") {
    const sp = /** @type {{ id: string }} */ (
      az(["ad", "sp", "show", "--id", String(user.name), "-o", "json"])
    );
    return { id: sp.id, name: `service principal ${user.name}` };
  }
  const me = /** @type {{ id: string }} */ (az(["ad", "signed-in-user", "show", "-o", "json"]));
  return { id: me.id, name: String(user.name ?? me.id) };
}

/** The names of the roles the principal holds, without a condition, at this scope or above. */
function rolesAt(az, principalId, scope) {
  const assignments = az([
    "role",
    "assignment",
    "list",
    "--assignee",
    principalId,
    "--scope",
    scope,
    "--include-inherited",
    "--include-groups",
    "-o",
    "json",
  ]);
  if (!Array.isArray(assignments)) throw new Error("az role assignment list did not return a list");
  return new Set(
    assignments
      .filter((a) => a.condition === null || a.condition === undefined || a.condition === "")
      .map((a) => a.roleDefinitionName),
  );
}

/** The rights missing at a scope, as "right (one of: roles)". */
function missingAt(held, needs) {
  return needs
    .filter((need) => !need.roles.some((role) => held.has(role)))
    .map((need) => `${need.right}: ${need.roles.join(" or ")}`);
}

/**
 * The hook's verdict from the environment and an az runner (tests pass recorded outputs).
 * @param {NodeJS.ProcessEnv} env
 * @param {AzRunner} az
 * @returns {{ error?: string, warning?: string, note?: string }}
 */
function checkDeployer(env, az) {
  const workspace = parseWorkspaceId(env.SENTINEL_WORKSPACE_ID);
  if ("problem" in workspace) return { error: workspace.problem };
  if ((env.NBTSCAN_SKIP_RIGHTS_CHECK ?? "").trim().toLowerCase() === "true") {
    return { note: "NBTSCAN_SKIP_RIGHTS_CHECK=true: the deployer's roles are not checked." };
  }
  const deploymentSubscription = (env.AZURE_SUBSCRIPTION_ID ?? "").trim();
  if (!GUID.test(deploymentSubscription)) {
    return {
      warning: "AZURE_SUBSCRIPTION_ID is not set yet, so the deployer's roles are not checked.",
    };
  }
  const scopes = [
    {
      label: `the deployment subscription /subscriptions/${deploymentSubscription}`,
      scope: `/subscriptions/${deploymentSubscription}`,
      needs: NEEDS.deployment,
    },
    {
      label: `the Sentinel workspace's resource group /subscriptions/${workspace.subscriptionId}/resourceGroups/${workspace.resourceGroup}`,
      scope: `/subscriptions/${workspace.subscriptionId}/resourceGroups/${workspace.resourceGroup}`,
      needs: NEEDS.workspace,
    },
  ];
  let principal;
  const missing = [];
  try {
    principal = signedInPrincipal(az);
    for (const { label, scope, needs } of scopes) {
      const lacking = missingAt(rolesAt(az, principal.id, scope), needs);
      if (lacking.length > 0) missing.push(`on ${label}, ${lacking.join("; ")}`);
    }
  } catch (error) {
    const reason = String(error?.stderr || error?.message || error).split("\n")[0];
    return {
      warning: `could not check the deployer's roles (az: ${reason}); README, "Rights for the account that deploys", lists them.`,
    };
  }
  if (missing.length > 0) {
    return {
      error: `${principal.name} lacks ${missing.join("; and ")} (README, "Rights for the account that deploys").`,
    };
  }
  return { note: `${principal.name} holds the roles the deployment needs.` };
}

function runAz(args) {
  // shell: true on Windows, where az is a .cmd script.
  const out = execFileSync("az", args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    shell: process.platform === "win32",
  });
  return JSON.parse(out);
}

function main() {
  const { error, warning, note } = checkDeployer(process.env, runAz);
  if (note) process.stdout.write(`check-deployer: ${note}\n`);
  if (warning) process.stderr.write(`check-deployer: WARNING: ${warning}\n`);
  if (error) process.stderr.write(`check-deployer: ERROR: ${error}\n`);
  process.exitCode = error ? 1 : 0;
}

module.exports = { checkDeployer, parseWorkspaceId, NEEDS };

if (require.main === module) main();
