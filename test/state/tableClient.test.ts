import { RestError, type PipelinePolicy } from "@azure/core-rest-pipeline";
import { randomUUID } from "node:crypto";
import { createTableClient } from "../../functions/state/tableClient";
import { startAzuriteTable, type AzuriteTable } from "../../sandbox/azurite";

let azurite: AzuriteTable;
beforeAll(async () => {
  azurite = await startAzuriteTable();
});
afterAll(() => azurite.stop());

/** Fails the first `times` requests as a write on a socket the server closed would. */
function brokenSocket(times: number, code: string): PipelinePolicy & { sent: number } {
  const policy = {
    name: "brokenSocket",
    sent: 0,
    sendRequest: async (
      request: Parameters<PipelinePolicy["sendRequest"]>[0],
      next: Parameters<PipelinePolicy["sendRequest"]>[1],
    ) => {
      policy.sent += 1;
      if (policy.sent <= times) throw new RestError(`write ${code}`, { code, request });
      return next(request);
    },
  };
  return policy;
}

describe("the state table's client", () => {
  it.each(["EPIPE", "ECONNRESET"])("sends a table write again after %s", async (code) => {
    const failing = brokenSocket(2, code);
    const table = createTableClient(
      {
        kind: "connectionString",
        connectionString: azurite.connectionString,
        tableName: `c${randomUUID().slice(0, 8)}`,
      },
      () => {
        throw new Error("no credential needed");
      },
      [failing],
    );
    await table.createTable();
    await table.submitTransaction([["upsert", { partitionKey: "p", rowKey: "r", V: 1 }]]);
    expect(failing.sent).toBeGreaterThan(2);
    expect((await table.getEntity<{ V: number }>("p", "r")).V).toBe(1);
  });
});
