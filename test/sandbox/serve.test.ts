import { exportLines, passThrough } from "../../sandbox/serve";

describe("the sandbox's environment", () => {
  it("passes the user's own detection settings through, never where the services are", () => {
    const env = passThrough({
      INCIDENT_GROUPING: "event",
      EXCLUSIONS_FILE: "mine.yaml",
      LOOKBACK: "P1D",
      PATH: "/usr/bin",
      LOG_ANALYTICS_ENDPOINT: "https://api.loganalytics.io/v1",
      STATE_TABLE_ENDPOINT: "https://acct.table.core.windows.net",
      PLAYBOOK_URL: "https://example.invalid/playbook",
    });
    expect(env).toEqual({
      INCIDENT_GROUPING: "event",
      EXCLUSIONS_FILE: "mine.yaml",
      LOOKBACK: "P1D",
      PATH: "/usr/bin",
    });
  });

  it("prints export lines a POSIX shell reads back exactly, quotes and semicolons included", () => {
    expect(exportLines({ A: "x;y=z", B: "it's" })).toEqual([
      "export A='x;y=z'",
      "export B='it'\\''s'",
    ]);
  });
});
