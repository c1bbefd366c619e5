// What `npm start -- --help` and `npm run sandbox` print: the usage, and the settings a person
// exports in another terminal to run `npm run detect` against the stand-ins that stay up.

/** The usage of the sandbox commands. */
export const SANDBOX_USAGE = `Usage: npm start [-- --help]      run the whole detection twice on this machine, then stop
       npm run sandbox                 start the same stand-ins and keep them up until Ctrl-C

npm start starts Azurite (Table and Queue Storage), a Log Analytics stand-in serving sample events
and the Sentinel exclusions watchlist, and a playbook receiver; runs \`npm run detect\` twice over
every detection (the second run must deliver nothing new), then once through the queue fan-out;
shows what the playbook received and what Sentinel would make of it; and stops everything.

Your own detection settings pass through (INCIDENT_GROUPING, EXCLUSIONS, EXCLUSIONS_FILE,
LOOKBACK, SEVERITY_*, ...); the sandbox sets only where the services are.

npm run sandbox prints the settings to export in another terminal and the path of the watchlist's
CSV file (edit a row: the next run reads it), then e.g.
  npm run detect -- --dry-run --json
  npm run detect -- --rule <rule id>      one detection (its id: line in functions/detections/*.yaml)
  INCIDENT_GROUPING=run npm run detect
  EXCLUSIONS_FILE=my-exclusions.yaml npm run detect -- --dry-run
Needs no Azure account and no configuration.`;

/** The settings that say where the stand-ins are: the sandbox's, never the user's. */
export const SANDBOX_SETTINGS = [
  "LOG_ANALYTICS_WORKSPACE_ID",
  "LOG_ANALYTICS_ENDPOINT",
  "STATE_TABLE_CONNECTION_STRING",
  "STATE_TABLE_ENDPOINT",
  "PLAYBOOK_URL",
] as const;

/**
 * The environment `detect` runs with: this process's, the user's own detection settings
 * included, except those that say where the services are, which the sandbox sets.
 */
export function passThrough(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const own = new Set<string>(SANDBOX_SETTINGS);
  return Object.fromEntries(Object.entries(env).filter(([name]) => !own.has(name)));
}

/** POSIX shell `export` lines for settings, each value single-quoted. */
export function exportLines(settings: Record<string, string>): string[] {
  return Object.entries(settings).map(
    ([name, value]) => `export ${name}='${value.replace(/'/g, `'\\''`)}'`,
  );
}
