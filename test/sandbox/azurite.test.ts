import { TableClient } from "@azure/data-tables";
import { QueueClient } from "@azure/storage-queue";
import {
  startAzuriteQueue,
  startAzuriteTable,
  type AzuriteQueue,
  type AzuriteTable,
} from "../../sandbox/azurite";

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("Azurite Table service", () => {
  let azurite: AzuriteTable | undefined;

  afterEach(async () => {
    await azurite?.stop();
    azurite = undefined;
  });

  it("serves a real TableClient on 127.0.0.1 and stops", async () => {
    azurite = await startAzuriteTable();
    expect(azurite.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
    expect(azurite.connectionString).toContain(`TableEndpoint=${azurite.endpoint};`);

    const table = TableClient.fromConnectionString(azurite.connectionString, "sandboxcheck", {
      allowInsecureConnection: true,
    });
    await table.createTable();
    await table.upsertEntity({ partitionKey: "state", rowKey: "watermark", value: "2026-11-25" });
    const entity = await table.getEntity<{ value: string }>("state", "watermark");
    expect(entity.value).toBe("2026-11-25");

    const { pid } = azurite;
    expect(isRunning(pid)).toBe(true);
    await azurite.stop();
    expect(isRunning(pid)).toBe(false);
    await azurite.stop(); // idempotent
  });
});

describe("Azurite Queue service", () => {
  let azurite: AzuriteQueue | undefined;

  afterEach(async () => {
    await azurite?.stop();
    azurite = undefined;
  });

  it("serves a real QueueClient on 127.0.0.1 and stops", async () => {
    azurite = await startAzuriteQueue();
    expect(azurite.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
    expect(azurite.connectionString).toContain(`QueueEndpoint=${azurite.endpoint};`);

    const queue = new QueueClient(azurite.connectionString, "sandbox-check");
    await queue.create();
    await queue.sendMessage("hello");
    const { receivedMessageItems } = await queue.receiveMessages({ visibilityTimeout: 60 });
    expect(receivedMessageItems.map((m) => [m.messageText, m.dequeueCount])).toEqual([
      ["hello", 1],
    ]);

    const { pid } = azurite;
    expect(isRunning(pid)).toBe(true);
    await azurite.stop();
    expect(isRunning(pid)).toBe(false);
  });
});
