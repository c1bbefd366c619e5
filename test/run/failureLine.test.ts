import { createPipelineRequest, RestError } from "@azure/core-rest-pipeline";
import { failureLine, type ServiceEndpoint } from "../../functions/run/failureLine";
import { PartialResultError } from "../../functions/query/detectionQuery";

const SERVICES: ServiceEndpoint[] = [
  {
    service: "Log Analytics",
    url: new URL("https://api.loganalytics.io/v1"),
    settings: "LOG_ANALYTICS_ENDPOINT and LOG_ANALYTICS_WORKSPACE_ID",
  },
  {
    service: "Table Storage",
    url: new URL("https://acct.table.core.windows.net"),
    settings: "STATE_TABLE_ENDPOINT and STATE_TABLE_NAME",
  },
];

function restError(url: string, options: { code?: string; statusCode?: number }, message: string) {
  return new RestError(message, { ...options, request: createPipelineRequest({ url }) });
}

describe("failureLine", () => {
  it("names the service by the request's origin, the endpoint, and the settings to check", () => {
    expect(
      failureLine(
        restError(
          "https://acct.table.core.windows.net/Tables",
          { code: "ECONNREFUSED" },
          "connect ECONNREFUSED 10.0.0.1:443",
        ),
        SERVICES,
      ),
    ).toBe(
      "Table Storage at https://acct.table.core.windows.net cannot be reached (connect ECONNREFUSED 10.0.0.1:443); check STATE_TABLE_ENDPOINT and STATE_TABLE_NAME",
    );
  });

  it("says which HTTP status the service answered (a wrong path or workspace)", () => {
    expect(
      failureLine(
        restError(
          "https://api.loganalytics.io/v1/workspaces/x/query",
          { statusCode: 404 },
          "The requested path does not exist",
        ),
        SERVICES,
      ),
    ).toBe(
      "Log Analytics at https://api.loganalytics.io/v1 answered HTTP 404 (The requested path does not exist); check LOG_ANALYTICS_ENDPOINT and LOG_ANALYTICS_WORKSPACE_ID",
    );
  });

  it("names the host and NODE_EXTRA_CA_CERTS for a certificate Node does not trust", () => {
    expect(
      failureLine(
        restError(
          "https://api.loganalytics.io/v1/q",
          { code: "SELF_SIGNED_CERT_IN_CHAIN" },
          "self-signed certificate in certificate chain",
        ),
        SERVICES,
      ),
    ).toMatch(
      /^Log Analytics at https:\/\/api\.loganalytics\.io\/v1: TLS certificate of api\.loganalytics\.io not trusted \(self-signed certificate in certificate chain\); add its CA certificate to NODE_EXTRA_CA_CERTS/,
    );
  });

  it("names Log Analytics for what its answers make the run refuse", () => {
    const partial = new PartialResultError(
      { start: new Date(0), end: new Date(1000) },
      "query exceeded limits",
    );
    expect(failureLine(partial, SERVICES)).toMatch(
      /^Log Analytics at https:\/\/api\.loganalytics\.io\/v1: .*query exceeded limits; check LOG_ANALYTICS_ENDPOINT/,
    );
  });

  it("tells a terminal user to sign in when no Azure credential is available", () => {
    const error = new Error("DefaultAzureCredential failed to retrieve a token");
    error.name = "CredentialUnavailableError";
    expect(failureLine(error, SERVICES)).toMatch(/^Azure sign-in failed: .*run 'az login'/);
  });

  it("keeps any other error as its one line", () => {
    expect(failureLine(new Error("first\nsecond"), SERVICES)).toBe("first | second");
  });
});
