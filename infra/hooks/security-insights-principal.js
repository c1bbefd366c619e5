#!/usr/bin/env node
// azd preprovision hook: finds the object id of the "Azure Security Insights" service principal
// (Microsoft Sentinel's automation; the appId is the same in every tenant, the object id is not)
// and stores it as SECURITY_INSIGHTS_PRINCIPAL_ID, which main.parameters.json passes to the
// deployment. The deployment then grants it Microsoft Sentinel Automation Contributor on the
// playbooks' resource group, which Sentinel needs to run them from automation rules.
//
// It never fails the provisioning: without the Azure CLI, a sign-in, or directory read access,
// it says so and leaves the variable empty; the automation rule then only labels incidents until
// the role is assigned by hand (README, "Response playbooks").
const { execFileSync } = require("node:child_process");
const process = require("node:process");

const SECURITY_INSIGHTS_APP_ID = "98785600-1bb7-4fb9-b9fa-19afe2c8a360";
const VARIABLE = "SECURITY_INSIGHTS_PRINCIPAL_ID";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function run(command, args) {
  // shell: true on Windows, where az and azd are .cmd scripts.
  return execFileSync(command, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    shell: process.platform === "win32",
  }).trim();
}

function main() {
  const current = process.env[VARIABLE] ?? "";
  if (GUID.test(current)) {
    process.stdout.write(`${VARIABLE} is set (${current}); keeping it.\n`);
    return;
  }
  let objectId;
  try {
    objectId = run("az", [
      "ad",
      "sp",
      "show",
      "--id",
      SECURITY_INSIGHTS_APP_ID,
      "--query",
      "id",
      "-o",
      "tsv",
    ]);
  } catch (error) {
    const reason = (error.stderr || error.message || "").toString().split("\n")[0];
    process.stderr.write(
      `Could not look up the Azure Security Insights service principal (${reason}).\n` +
        "The automation rule will only label incidents. To let it run the evidence playbook, run\n" +
        `  azd env set ${VARIABLE} $(az ad sp show --id ${SECURITY_INSIGHTS_APP_ID} --query id -o tsv)\n` +
        'and `azd provision` again, or assign the role by hand (README, "Response playbooks").\n',
    );
    return;
  }
  if (!GUID.test(objectId)) {
    process.stderr.write(
      `Unexpected object id from az: '${objectId}'; leaving ${VARIABLE} unset.\n`,
    );
    return;
  }
  run("azd", ["env", "set", VARIABLE, objectId]);
  process.stdout.write(`${VARIABLE}=${objectId} (Azure Security Insights)\n`);
}

main();
