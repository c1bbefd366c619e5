// azd preprovision hook (azure.yaml): says, before anything is deployed, who the health alerts
// will notify, and stops on settings the deployment would ignore or reject later.
//
// azd passes the environment's values (azd env set ...) to hooks as environment variables.
//   HEALTH_ALERT_EMAILS      comma-separated addresses; unset or empty: a loud warning, because the
//                            alerts then fire into the portal only and nobody hears of a broken
//                            detection or a silent Defender table.
//   SCHEDULE_PERIOD_MINUTES  the one schedule setting; the timer and the alerts derive from it.
//   DETECTION_SCHEDULE       no longer a deployment setting: set, it would be silently ignored,
//                            so the hook refuses to go on and says what to set instead.
//   EXCLUSIONS, EXCLUSIONS_FILE  not deployment settings either (the document travels base64-
//                            encoded in EXCLUSIONS_BASE64, main.bicep says why): refused the same way.
//   EXCLUSIONS_WATCHLIST     the watchlist's alias: letters, digits, '-' and '_' (the function
//                            refuses any other at run time, functions/triage/watchlist.ts).
const process = require("node:process");

// Deliberately loose: Azure Monitor validates the address; this catches a wrong separator or a
// pasted display name, which would otherwise fail the deployment minutes later.
const EMAIL = /^[^\s@,;<>]+@[^\s@,;<>]+\.[^\s@,;<>]+$/;

/** The check's verdict: lines to print, and whether provisioning may go on. */
function checkAlerting(env) {
  const errors = [];
  const warnings = [];
  const notes = [];

  const addresses = (env.HEALTH_ALERT_EMAILS ?? "")
    .split(",")
    .map((address) => address.trim())
    .filter((address) => address !== "");
  const malformed = addresses.filter((address) => !EMAIL.test(address));
  for (const address of malformed) {
    errors.push(
      `HEALTH_ALERT_EMAILS: '${address}' is not an email address; expected comma-separated ` +
        "addresses such as soc@example.com,oncall@example.com.",
    );
  }
  if (addresses.length === 0) {
    warnings.push(
      "HEALTH_ALERT_EMAILS is not set: the detection's health and data-liveness alerts will " +
        "notify NOBODY. A failing detection or a silent Defender table will only show in the " +
        "Azure portal. Set it with: azd env set HEALTH_ALERT_EMAILS soc@example.com",
    );
  } else if (malformed.length === 0) {
    notes.push(`The health and data-liveness alerts will email: ${addresses.join(", ")}.`);
  }

  if ((env.DETECTION_SCHEDULE ?? "").trim() !== "") {
    errors.push(
      "DETECTION_SCHEDULE is set in the azd environment, but the deployment derives the timer " +
        "from SCHEDULE_PERIOD_MINUTES (5, 10, 15, 30, 60, 120, 180, 240, 360, 720 or 1440) so " +
        "that the health alert matches it. Run: azd env set DETECTION_SCHEDULE '' and " +
        "azd env set SCHEDULE_PERIOD_MINUTES <minutes>.",
    );
  }

  for (const name of ["EXCLUSIONS", "EXCLUSIONS_FILE"]) {
    if ((env[name] ?? "").trim() !== "") {
      errors.push(
        `${name} is set in the azd environment, but the deployment takes the exclusions ` +
          "document base64-encoded (azd pastes variables into main.parameters.json, which a " +
          `document's quotes and backslashes would break). Run: azd env set ${name} '' and ` +
          "azd env set EXCLUSIONS_BASE64 \"$(base64 < exclusions.yaml | tr -d '\\n')\"; " +
          "or keep exclusions in the Sentinel watchlist (EXCLUSIONS_WATCHLIST).",
      );
    }
  }
  const alias = (env.EXCLUSIONS_WATCHLIST ?? "").trim();
  if (alias !== "" && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(alias)) {
    errors.push(
      `EXCLUSIONS_WATCHLIST: '${alias}' is not a watchlist alias; expected letters, digits, ` +
        "'-' and '_' (at most 64), such as nbtscan-exclusions.",
    );
  }

  return { errors, warnings, notes };
}

function main() {
  const { errors, warnings, notes } = checkAlerting(process.env);
  for (const line of notes) process.stdout.write(`check-alerting: ${line}\n`);
  for (const line of warnings) process.stderr.write(`check-alerting: WARNING: ${line}\n`);
  for (const line of errors) process.stderr.write(`check-alerting: ERROR: ${line}\n`);
  process.exitCode = errors.length > 0 ? 1 : 0;
}

main();
