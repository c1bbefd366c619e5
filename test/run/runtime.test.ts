// Which credential the runtime builds, with @azure/identity replaced by recorders: constructing
// a real one is harmless, but a wrong choice would only show in Azure.
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
import { loadConfig } from "../../functions/config/config";
import { DetectionRuntime } from "../../functions/run/runtime";
import { shippedDetections } from "../support/compiled";

jest.mock("@azure/identity", () => ({
  DefaultAzureCredential: jest.fn(),
  ManagedIdentityCredential: jest.fn(),
}));

const CLIENT_ID = "0b2f6a4e-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
const base = {
  LOG_ANALYTICS_WORKSPACE_ID: "11111111-2222-4333-8444-555555555555",
  PLAYBOOK_URL:
    "https://prod-01.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke",
  AZURE_CLIENT_ID: CLIENT_ID,
};

beforeEach(() => jest.clearAllMocks());

describe("DetectionRuntime credentials", () => {
  it("asks for no Azure credential against loopback stand-ins and a connection string", () => {
    const config = loadConfig({
      ...base,
      LOG_ANALYTICS_ENDPOINT: "https://127.0.0.1:8443/v1",
      STATE_TABLE_CONNECTION_STRING: "UseDevelopmentStorage=true",
      PLAYBOOK_URL: "https://127.0.0.1:8444/playbook",
    });
    new DetectionRuntime(config, { host: "function", compiled: shippedDetections() });
    expect(ManagedIdentityCredential).not.toHaveBeenCalled();
    expect(DefaultAzureCredential).not.toHaveBeenCalled();
  });

  // One credential for storage, Log Analytics and the playbook's trigger (whose policy names it).
  it("in Azure, signs in once with the user-assigned managed identity", () => {
    const config = loadConfig({
      ...base,
      STATE_TABLE_ENDPOINT: "https://acct.table.core.windows.net",
    });
    new DetectionRuntime(config, { host: "function", compiled: shippedDetections() });
    expect(ManagedIdentityCredential).toHaveBeenCalledTimes(1);
    expect(ManagedIdentityCredential).toHaveBeenCalledWith({ clientId: CLIENT_ID });
    expect(DefaultAzureCredential).not.toHaveBeenCalled();
  });

  it("at a terminal, uses the developer's sign-in", () => {
    const config = loadConfig({
      ...base,
      STATE_TABLE_ENDPOINT: "https://acct.table.core.windows.net",
    });
    new DetectionRuntime(config, { host: "cli", dryRun: true, compiled: shippedDetections() });
    expect(DefaultAzureCredential).toHaveBeenCalledTimes(1);
    expect(ManagedIdentityCredential).not.toHaveBeenCalled();
  });

  it("refuses a real run without a playbook rather than silently not delivering", () => {
    const config = loadConfig(
      { ...base, STATE_TABLE_CONNECTION_STRING: "UseDevelopmentStorage=true" },
      { requirePlaybook: false },
    );
    expect(
      () =>
        new DetectionRuntime(
          { ...config, playbookUrl: undefined },
          { host: "function", compiled: shippedDetections() },
        ),
    ).toThrow(/PLAYBOOK_URL is required/);
  });
});
