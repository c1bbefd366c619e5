// A stand-in for the Functions host's queue-trigger listener (the Storage Queues extension of
// the WebJobs SDK), enough to drive a queue handler with messages received from Azurite the way
// Azure drives it. Each behaviour below names the documented rule or the extension's source it
// follows: Azure/azure-sdk-for-net, sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/
// src/Shared/Queues/QueueListener.cs and QueueProcessor.cs ("the extension" below).
//
// What it leaves out: polling and its back-off (a test asks for the next message itself), batches
// and concurrency (host.json batchSize 1 and newBatchThreshold 0 make one message per instance;
// several stand-ins are several instances), and renewing a message's invisibility while a long
// function runs (the extension does so at half of its 10 minutes; no test runs that long).
import { InvocationContext, type StorageQueueHandler } from "@azure/functions";
import type { DequeuedMessageItem, QueueClient } from "@azure/storage-queue";

/**
 * How long a received message stays invisible while its function runs: 10 minutes, fixed by the
 * extension (QueueListener: `_visibilityTimeout = TimeSpan.FromMinutes(10)`), and what is left
 * on a message whose host crashed (functions-bindings-storage-queue-trigger, "Peek lock").
 */
export const PROCESSING_VISIBILITY_SECONDS = 10 * 60;

/** One log line of an invocation. */
export interface HostLogLine {
  level: string;
  message: string;
}

/** What became of one message. */
export interface Delivery {
  messageId: string;
  dequeueCount: number;
  /** deleted: the function succeeded; released: it failed and will be retried; poisoned: moved. */
  outcome: "deleted" | "released" | "poisoned";
  error?: string;
  logs: HostLogLine[];
}

/** host.json `extensions.queues` settings the listener applies. */
export interface QueueHostOptions {
  /** The function's name, as the host tells the worker. */
  functionName: string;
  queue: QueueClient;
  poison: QueueClient;
  handler: StorageQueueHandler;
  /** extensions.queues.maxDequeueCount. */
  maxDequeueCount: number;
  /**
   * extensions.queues.visibilityTimeout in seconds: how long a failed message stays invisible
   * before its retry. Tests that retry at once pass 0, the extension's default.
   */
  visibilityTimeoutSeconds: number;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The value the Node.js worker hands the handler: the body decoded from base64 (host.json
 * messageEncoding "base64", the default), then parsed when it is JSON, else the text itself
 * (functions-bindings-storage-queue-trigger, "Usage": "If the payload is JSON, the value is
 * deserialized into an object"; @azure/functions fromRpcTypedData tries JSON.parse on strings).
 * A body that is not base64 fails before the function runs, as the host's binding does.
 */
function triggerValue(messageText: string): unknown {
  if (!BASE64.test(messageText)) {
    throw new Error("The input is not a valid Base-64 string (host.json messageEncoding base64)");
  }
  const text = Buffer.from(messageText, "base64").toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** One function instance's queue listener. */
export class QueueHostStandin {
  constructor(private readonly options: QueueHostOptions) {}

  /**
   * Gets the next visible message, as the listener's poll does (Get Messages with the 10-minute
   * visibility; each get adds one to the message's dequeue count, learn.microsoft.com/rest/api/
   * storageservices/get-messages). Undefined when none is visible.
   */
  async receive(): Promise<DequeuedMessageItem | undefined> {
    const { receivedMessageItems } = await this.options.queue.receiveMessages({
      numberOfMessages: 1,
      visibilityTimeout: PROCESSING_VISIBILITY_SECONDS,
    });
    return receivedMessageItems[0];
  }

  /**
   * Runs the function on a received message and settles it, as the extension does:
   * - BeginProcessingMessageAsync: a message already dequeued more than maxDequeueCount times
   *   goes to the poison queue without running;
   * - CompleteProcessingMessageAsync: success deletes the message; failure on or after the
   *   maxDequeueCount-th dequeue copies it to `<queue>-poison` and deletes it, earlier failures
   *   release it with visibilityTimeout ("Peek lock": "the Functions host updates the visibility
   *   of the message based on the visibilityTimeout setting").
   */
  async process(message: DequeuedMessageItem): Promise<Delivery> {
    const { maxDequeueCount } = this.options;
    const logs: HostLogLine[] = [];
    const settled = (outcome: Delivery["outcome"], error?: string): Delivery => ({
      messageId: message.messageId,
      dequeueCount: message.dequeueCount,
      outcome,
      ...(error === undefined ? {} : { error }),
      logs,
    });
    if (message.dequeueCount > maxDequeueCount) {
      await this.poison(message);
      return settled("poisoned");
    }
    const context = new InvocationContext({
      functionName: this.options.functionName,
      // The queue trigger's metadata (functions-bindings-storage-queue-trigger, "Message
      // metadata"), camel-cased as @azure/functions hands trigger metadata over.
      triggerMetadata: {
        dequeueCount: message.dequeueCount,
        id: message.messageId,
        popReceipt: message.popReceipt,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        queueTrigger: message.messageText,
      },
      logHandler: (level, ...args) => logs.push({ level, message: args.map(String).join(" ") }),
    });
    try {
      await this.options.handler(triggerValue(message.messageText), context);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (message.dequeueCount >= maxDequeueCount) {
        await this.poison(message);
        return settled("poisoned", reason);
      }
      await this.options.queue.updateMessage(
        message.messageId,
        message.popReceipt,
        undefined,
        this.options.visibilityTimeoutSeconds,
      );
      return settled("released", reason);
    }
    await this.options.queue.deleteMessage(message.messageId, message.popReceipt);
    return settled("deleted");
  }

  /**
   * Receives and processes messages until none is visible: what the host's listener does while
   * the queue has messages. Returns every delivery in order.
   */
  async drain(): Promise<Delivery[]> {
    const deliveries: Delivery[] = [];
    for (let message = await this.receive(); message; message = await this.receive()) {
      deliveries.push(await this.process(message));
    }
    return deliveries;
  }

  /**
   * CopyMessageToPoisonQueueAsync then DeleteMessageAsync: the same text added to `<queue>-poison`
   * (created if missing; the extension's AddMessageAndCreateIfNotExistsAsync), then the original
   * deleted.
   */
  private async poison(message: DequeuedMessageItem): Promise<void> {
    await this.options.poison.createIfNotExists();
    await this.options.poison.sendMessage(message.messageText);
    await this.options.queue.deleteMessage(message.messageId, message.popReceipt);
  }
}
