import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConfigError, isLoopbackUrl, loadConfig } from "../../functions/config/config";
import { acceptedValues, SETTINGS } from "../../functions/config/settings";
import { problemsOf as problemsOfCall } from "../support/problems";

const VALID = {
  LOG_ANALYTICS_WORKSPACE_ID: "6B1C3D8E-0F2A-4B5C-9D8E-7F6A5B4C3D2E",
  STATE_TABLE_ENDPOINT: "https://acct.table.core.windows.net/",
  PLAYBOOK_URL:
    "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=s3cret",
};

function problemsOf(env: Record<string, string>): string[] {
  return problemsOfCall(ConfigError, () => loadConfig(env));
}

describe("loadConfig", () => {
  it("applies the documented defaults to a minimal Azure configuration", () => {
    const config = loadConfig(VALID);
    expect(config.workspaceId).toBe(VALID.LOG_ANALYTICS_WORKSPACE_ID.toLowerCase());
    expect(config.logAnalyticsEndpoint.toString()).toBe("https://api.loganalytics.io/v1");
    expect(config.lookbackMs).toBe(7 * 24 * 3600 * 1000);
    expect(config.settleMs).toBe(2 * 60 * 1000);
    expect(config.schedule).toBe("0 */5 * * * *");
    expect(config.grouping).toBe("device");
    expect(config.stateTable).toEqual({
      kind: "endpoint",
      endpoint: "https://acct.table.core.windows.net",
      tableName: "nbtscandetector",
    });
    expect(config.severityPolicy).toEqual({ default: "Medium", elevated: "High", benign: "Low" });
  });

  it("takes explicit values, durations in ISO 8601, grouping case-insensitively", () => {
    const config = loadConfig({
      ...VALID,
      LOOKBACK: "P1DT12H",
      INGESTION_SETTLE: "PT30S",
      INCIDENT_GROUPING: "Event",
      PLAYBOOK_MAX_RETRIES: "0",
    });
    expect(config.lookbackMs).toBe(36 * 3600 * 1000);
    expect(config.settleMs).toBe(30_000);
    expect(config.grouping).toBe("event");
    expect(config.playbookMaxRetries).toBe(0);
  });

  it("reports every problem at once, naming the setting and a valid example", () => {
    const problems = problemsOf({
      LOG_ANALYTICS_WORKSPACE_ID: "not-a-guid",
      LOOKBACK: "7 days",
      INCIDENT_GROUPING: "host",
      PLAYBOOK_URL: "http://playbook.example.com/run",
      STATE_TABLE_ENDPOINT: "https://acct.table.core.windows.net",
      DETECTION_SCHEDULE: "*/5 * * * *",
    });
    expect(problems).toEqual([
      expect.stringMatching(/^LOG_ANALYTICS_WORKSPACE_ID is 'not-a-guid'; expected a GUID/),
      expect.stringMatching(/^LOOKBACK is '7 days'; expected an ISO 8601 duration such as P7D/),
      expect.stringMatching(
        /^DETECTION_SCHEDULE is '\*\/5 \* \* \* \*', 5 field\(s\); expected a six-field NCRONTAB/,
      ),
      expect.stringMatching(/^INCIDENT_GROUPING is 'host'; expected device, run or event/),
      expect.stringMatching(/^PLAYBOOK_URL uses http; expected/),
    ]);
  });

  it("requires the workspace, a state table and the playbook", () => {
    expect(problemsOf({})).toEqual([
      expect.stringMatching(/^LOG_ANALYTICS_WORKSPACE_ID is not set/),
      expect.stringMatching(/^STATE_TABLE_ENDPOINT or STATE_TABLE_CONNECTION_STRING must be set/),
      expect.stringMatching(/^PLAYBOOK_URL is not set/),
    ]);
  });

  it("needs no playbook for a dry run", () => {
    const { PLAYBOOK_URL: _omitted, ...env } = VALID;
    expect(loadConfig(env, { requirePlaybook: false }).playbookUrl).toBeUndefined();
  });

  it("rejects durations of years or months, zero, and a settle margin not shorter than the lookback", () => {
    expect(problemsOf({ ...VALID, LOOKBACK: "P1M" })[0]).toMatch(/^LOOKBACK is 'P1M'/);
    expect(problemsOf({ ...VALID, QUERY_TIMEOUT: "PT0S" })[0]).toMatch(
      /^QUERY_TIMEOUT .* too short/,
    );
    expect(problemsOf({ ...VALID, LOOKBACK: "PT30M", INGESTION_SETTLE: "PT1H" })).toEqual([
      "INGESTION_SETTLE must be shorter than LOOKBACK.",
    ]);
  });

  it("gives every duration and number a range, so no value overflows a timer or a date", () => {
    // Node's timers overflow to 1 ms at 2^31 ms (about PT596H31M); P999999999D overflows Date.
    expect(
      problemsOf({
        ...VALID,
        LOOKBACK: "P999999999D",
        INGESTION_SETTLE: "PT2H",
        QUERY_TIMEOUT: "PT597H",
        PLAYBOOK_TIMEOUT: "PT600H",
        PLAYBOOK_MAX_RETRIES: "1e1",
        MAX_RETRY_AFTER: "P30D",
      }),
    ).toEqual([
      "LOOKBACK is 'P999999999D', too long; expected an ISO 8601 duration such as P7D or PT12H, from PT10M to P30D.",
      "INGESTION_SETTLE is 'PT2H', too long; expected an ISO 8601 duration such as PT2M, from PT1S to PT1H.",
      "QUERY_TIMEOUT is 'PT597H', too long; expected an ISO 8601 duration such as PT2M, from PT5S to PT10M.",
      "PLAYBOOK_TIMEOUT is 'PT600H', too long; expected an ISO 8601 duration such as PT30S, from PT1S to PT5M.",
      "PLAYBOOK_MAX_RETRIES is '1e1'; expected a whole number such as 3, from 0 to 10.",
      "MAX_RETRY_AFTER is 'P30D', too long; expected an ISO 8601 duration such as PT30S, from PT1S to PT5M.",
    ]);
    expect(problemsOf({ ...VALID, PLAYBOOK_MAX_RETRIES: "11" })[0]).toMatch(
      /^PLAYBOOK_MAX_RETRIES is '11'/,
    );
    expect(loadConfig({ ...VALID, LOOKBACK: "P30D", QUERY_TIMEOUT: "PT10M" }).queryTimeoutMs).toBe(
      600_000,
    );
  });

  it.each([
    ["99 99 99 99 99 99", /its second field '99' is invalid/],
    ["0 99 * * * *", /its minute field '99' is invalid/],
    ["0 0 25 * * *", /its hour field '25' is invalid/],
    ["0 0 0 32 * *", /its day field '32' is invalid/],
    ["0 0 0 * 13 *", /its month field '13' is invalid/],
    ["0 0 0 * * FOO", /its day-of-week field 'FOO' is invalid/],
    ["0 0 0 * * 1-9", /its day-of-week field '1-9' is invalid/],
    ["0 0 0 5-2 * *", /its day field '5-2' is invalid/],
    ["0 */0 * * * *", /its minute field '\*\/0' is invalid/],
    ["0 0 0 L * *", /its day field 'L' is invalid/],
    ["0 0 0 ? * MON#2", /its day field '\?' is invalid/],
    ["0 0 0 30 2 *", /which never fires/],
    ["0 */5 * * * * *", /7 field\(s\)/],
  ])("validates the NCRONTAB schedule field by field: %s", (schedule, problem) => {
    const [only, ...rest] = problemsOf({ ...VALID, DETECTION_SCHEDULE: schedule });
    expect(rest).toEqual([]);
    expect(only).toMatch(/^DETECTION_SCHEDULE is '.*'/);
    expect(only).toMatch(problem);
  });

  it.each(["0 */5 * * * *", "30 0 9-17 * * MON-FRI", "0 0 0 1 JAN,JUL *", "0 15,45 */2 * * 0"])(
    "accepts the NCRONTAB schedule %s",
    (schedule) => {
      expect(loadConfig({ ...VALID, DETECTION_SCHEDULE: schedule }).schedule).toBe(schedule);
    },
  );

  it.each([
    ["s3cret-garbage", /is not a storage connection string \(part 1 of 1 is not Name=Value\)/],
    ["AccountName=acct;s3cret", /part 2 of 2 is not Name=Value/],
    ["AccountName=acct;AccountKey=s3cret", /cannot be read by the Table SDK \(Invalid/],
    ["Foo=s3cret", /cannot be read by the Table SDK \(Invalid TableEndpoint/],
  ])(
    "names STATE_TABLE_CONNECTION_STRING in one line when it cannot be read, without echoing it: %s",
    (value, problem) => {
      const { STATE_TABLE_ENDPOINT: _endpoint, ...withoutEndpoint } = VALID;
      const problems = problemsOf({ ...withoutEndpoint, STATE_TABLE_CONNECTION_STRING: value });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^STATE_TABLE_CONNECTION_STRING /);
      expect(problems[0]).toMatch(problem);
      expect(problems[0]).not.toMatch(/s3cret|toLowerCase/);
    },
  );

  it("refuses STATE_TABLE_ENDPOINT together with a connection string rather than pick one", () => {
    expect(
      problemsOf({ ...VALID, STATE_TABLE_CONNECTION_STRING: "UseDevelopmentStorage=true" }),
    ).toEqual([
      "STATE_TABLE_ENDPOINT and STATE_TABLE_CONNECTION_STRING are both set; expected one of them: the endpoint in Azure (managed identity), the connection string for Azurite.",
    ]);
  });

  // Every duration setting is read whole: each of these once passed as its valid prefix.
  const DURATION_SETTINGS = SETTINGS.filter((s) => s.example.includes("ISO 8601 duration"));
  it.each(
    DURATION_SETTINGS.flatMap((s) =>
      ["P7Dfoo", "P7D8", "PT2M30", "PT2M 30S", "PT2M30S!"].map((value) => [s.name, value]),
    ),
  )("refuses %s=%p: a duration with anything trailing", (name, value) => {
    const problems = problemsOf({ ...VALID, [name]: value });
    expect(problems[0]).toBe(
      `${name} is '${value}'; expected ${acceptedValues(SETTINGS.find((s) => s.name === name)!)}.`,
    );
  });

  it.each([
    ["LOG_ANALYTICS_WORKSPACE_ID", "6B1C3D8E-0F2A-4B5C-9D8E-7F6A5B4C3D2Eff"],
    ["AZURE_CLIENT_ID", "x6B1C3D8E-0F2A-4B5C-9D8E-7F6A5B4C3D2E"],
    ["PLAYBOOK_MAX_RETRIES", "3x"],
    ["DELIVERY_CONCURRENCY", "4 4"],
    ["INCIDENT_GROUPING", "device,run"],
    ["SEVERITY_DEFAULT", "Mediumish"],
    ["STATE_TABLE_NAME", "nbtscan-detector"],
    ["PLAYBOOK_URL", "https://prod-01.westeurope.logic.azure.com/workflows/abc x"],
    ["LOG_ANALYTICS_ENDPOINT", "https://api.loganalytics.io/v1 https://evil.example"],
  ])("checks %s whole: %p is refused", (name, value) => {
    expect(problemsOf({ ...VALID, [name]: value })[0]).toMatch(new RegExp(`^${name} `));
  });

  describe("exclusions", () => {
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), "config-exclusions-"))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("refuses EXCLUSIONS and EXCLUSIONS_FILE together", () => {
      const file = path.join(dir, "x.yaml");
      writeFileSync(file, "exclusions: []\n");
      expect(problemsOf({ ...VALID, EXCLUSIONS_FILE: file, EXCLUSIONS: "exclusions: []" })).toEqual(
        ["EXCLUSIONS_FILE and EXCLUSIONS are both set; expected one of them, not both."],
      );
    });

    it("names a missing file or a directory as EXCLUSIONS_FILE", () => {
      const missing = path.join(dir, "missing.yaml");
      expect(problemsOf({ ...VALID, EXCLUSIONS_FILE: missing })).toEqual([
        expect.stringMatching(/^EXCLUSIONS_FILE '.*missing\.yaml' does not exist; expected a path/),
      ]);
      expect(problemsOf({ ...VALID, EXCLUSIONS_FILE: dir })).toEqual([
        expect.stringMatching(/^EXCLUSIONS_FILE '.*' is not a regular file/),
      ]);
    });

    it("takes EXCLUSIONS_WATCHLIST as a watchlist alias, beside a file or inline document", () => {
      const file = path.join(dir, "w.yaml");
      writeFileSync(file, "exclusions: []\n");
      expect(
        loadConfig({
          ...VALID,
          EXCLUSIONS_WATCHLIST: " nbtscan-exclusions ",
          EXCLUSIONS_FILE: file,
        }).exclusions,
      ).toEqual({ file, inline: undefined, watchlist: "nbtscan-exclusions" });
      expect(
        loadConfig({ ...VALID, EXCLUSIONS_WATCHLIST: "" }).exclusions.watchlist,
      ).toBeUndefined();
    });

    it.each(["nbtscan exclusions", "x'; DeviceProcessEvents", "-leading-dash", "a".repeat(65)])(
      "refuses the watchlist alias %p, naming EXCLUSIONS_WATCHLIST",
      (alias) => {
        expect(problemsOf({ ...VALID, EXCLUSIONS_WATCHLIST: alias })).toEqual([
          expect.stringMatching(
            /^EXCLUSIONS_WATCHLIST is '.*'; expected a Microsoft Sentinel watchlist alias such as nbtscan-exclusions/,
          ),
        ]);
      },
    );

    it("reports an invalid exclusions document with the other problems, naming the setting", () => {
      expect(
        problemsOf({ ...VALID, LOOKBACK: "x", EXCLUSIONS: "exclusions: [{ name: a }]" }),
      ).toEqual([
        expect.stringMatching(/^LOOKBACK is 'x'/),
        expect.stringMatching(/^EXCLUSIONS: exclusion 'a' \(#1\): 'expires' is missing/),
        expect.stringMatching(/^EXCLUSIONS: exclusion 'a' \(#1\): 'condition' is missing/),
      ]);
    });
  });

  it("accepts loopback stand-ins, and the state table's plain http only there", () => {
    const config = loadConfig({
      ...VALID,
      LOG_ANALYTICS_ENDPOINT: "https://127.0.0.1:8443/v1",
      PLAYBOOK_URL: "https://localhost:7071/playbook",
      STATE_TABLE_ENDPOINT: "",
      STATE_TABLE_CONNECTION_STRING: "UseDevelopmentStorage=true",
    });
    expect(config.playbookUrl?.host).toBe("localhost:7071");
    expect(config.stateTable.kind).toBe("connectionString");
  });

  it("requires https for the playbook, even on loopback: its token never goes over http", () => {
    expect(problemsOf({ ...VALID, PLAYBOOK_URL: "http://127.0.0.1:7071/playbook" })[0]).toMatch(
      /^PLAYBOOK_URL uses http; expected/,
    );
  });

  it("keeps the playbook token's audience exactly as written", () => {
    expect(loadConfig(VALID).playbookTokenAudience).toBe("https://management.azure.com/");
    expect(
      loadConfig({ ...VALID, PLAYBOOK_TOKEN_AUDIENCE: "https://management.azure.com" })
        .playbookTokenAudience,
    ).toBe("https://management.azure.com");
    expect(problemsOf({ ...VALID, PLAYBOOK_TOKEN_AUDIENCE: "management" })[0]).toMatch(
      /^PLAYBOOK_TOKEN_AUDIENCE is not a URL/,
    );
  });

  it("requires https for the Log Analytics API, even on loopback: bearer tokens never go over http", () => {
    expect(problemsOf({ ...VALID, LOG_ANALYTICS_ENDPOINT: "http://127.0.0.1:8080/v1" })[0]).toMatch(
      /^LOG_ANALYTICS_ENDPOINT uses http; expected an https URL/,
    );
  });

  it("validates the table name and the managed identity client id", () => {
    expect(problemsOf({ ...VALID, STATE_TABLE_NAME: "1bad-name" })[0]).toMatch(
      /^STATE_TABLE_NAME is '1bad-name'/,
    );
    expect(problemsOf({ ...VALID, AZURE_CLIENT_ID: "me" })[0]).toMatch(/^AZURE_CLIENT_ID is 'me'/);
  });

  it("has a default that passes its own validation for every setting that has one", () => {
    const defaults = Object.fromEntries(
      SETTINGS.flatMap((s) => ("default" in s ? [[s.name, s.default]] : [])),
    );
    expect(() => loadConfig({ ...defaults, ...VALID })).not.toThrow();
  });
});

describe("isLoopbackUrl", () => {
  it.each([
    ["http://127.0.0.1:1/x", true],
    ["http://127.45.0.9/", true],
    ["http://localhost/", true],
    ["http://[::1]:80/", true],
    ["http://10.0.0.1/", false],
    ["http://127.0.0.1.example.com/", false],
  ])("%s → %s", (url, expected) => {
    expect(isLoopbackUrl(new URL(url))).toBe(expected);
  });
});

describe("loadConfig: the query passes", () => {
  it("reads a day back before the routine window and makes a catch-up pass hourly by default", () => {
    const config = loadConfig(VALID);
    expect(config.maxIngestionDelayMs).toBe(24 * 3600 * 1000);
    expect(config.catchUpIntervalMs).toBe(3600 * 1000);
  });

  it("names MAX_INGESTION_DELAY and CATCHUP_SCHEDULE when they are not durations in range", () => {
    const problems = problemsOf({
      ...VALID,
      MAX_INGESTION_DELAY: "1 day",
      CATCHUP_SCHEDULE: "P2D",
    });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^MAX_INGESTION_DELAY is '1 day'; expected an ISO 8601 duration/);
    expect(problems[1]).toMatch(/^CATCHUP_SCHEDULE is 'P2D'.*from PT5M to P1D/);
  });
});
