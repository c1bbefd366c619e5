// Where the detection queue is, and how the tick reaches it. The queue trigger reads the same
// settings through its `connection` (the Functions host resolves them); the tick builds an SDK
// client from them, so the two can never point at different queues.
import type { TokenCredential } from "@azure/core-auth";
import { QueueServiceClient, type QueueClient } from "@azure/storage-queue";
import { ConfigError } from "../config/configError";

/**
 * The queue trigger's `connection`: the prefix of its identity-based settings
 * `DETECTION_QUEUE__queueServiceUri`, `__credential`, `__clientId` (functions-storage-queue-
 * connections, "Identity-based connections"), or the name of a setting holding a connection
 * string, which only Azurite uses (the account allows no shared key).
 */
export const QUEUE_CONNECTION = "DETECTION_QUEUE";
/** The identity-based settings of QUEUE_CONNECTION the tick reads. */
export const QUEUE_SERVICE_URI_SETTING = `${QUEUE_CONNECTION}__queueServiceUri`;
export const QUEUE_CLIENT_ID_SETTING = `${QUEUE_CONNECTION}__clientId`;

/** The queue the tick fills and the worker drains; infra/modules/storage.bicep creates it. */
export const DETECTION_QUEUE_NAME = "detection-runs";
/**
 * Where the host moves a message whose run failed maxDequeueCount times: `<queue>-poison`
 * (functions-bindings-storage-queue-trigger, "Poison messages").
 */
export const POISON_QUEUE_NAME = `${DETECTION_QUEUE_NAME}-poison`;

/** The detection queue and its poison queue. */
export interface DetectionQueues {
  work: QueueClient;
  poison: QueueClient;
  /** Where the queues are, without secrets, for failure lines. */
  url: URL;
  /** The setting(s) that point there. */
  settings: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** True when this process is set up to fan out over the queue (either form of the connection). */
export function fanOutConfigured(env: Env): boolean {
  return Boolean(env[QUEUE_CONNECTION]?.trim() || env[QUEUE_SERVICE_URI_SETTING]?.trim());
}

/**
 * The queues the connection settings name. In Azure, the service URI and the function's
 * managed identity (`credential`, asked only here so nothing probes IMDS elsewhere); against
 * Azurite, its connection string. Throws ConfigError naming the setting when they are wrong.
 */
export function detectionQueues(env: Env, credential: () => TokenCredential): DetectionQueues {
  const connectionString = env[QUEUE_CONNECTION]?.trim();
  const serviceUri = env[QUEUE_SERVICE_URI_SETTING]?.trim();
  if (connectionString && serviceUri) {
    throw new ConfigError([
      `${QUEUE_CONNECTION} and ${QUEUE_SERVICE_URI_SETTING} are both set; expected one of them: ` +
        "the service URI in Azure (managed identity), the connection string for Azurite.",
    ]);
  }
  let service: QueueServiceClient;
  let settings: string;
  if (connectionString) {
    try {
      service = QueueServiceClient.fromConnectionString(connectionString);
    } catch {
      // The value is a secret: never shown.
      throw new ConfigError([
        `${QUEUE_CONNECTION} cannot be read by the Queue SDK; expected an Azurite connection string.`,
      ]);
    }
    settings = QUEUE_CONNECTION;
  } else if (serviceUri) {
    let url: URL;
    try {
      url = new URL(serviceUri);
    } catch {
      throw new ConfigError([
        `${QUEUE_SERVICE_URI_SETTING} is not a URL; expected https://<account>.queue.core.windows.net.`,
      ]);
    }
    if (url.protocol !== "https:") {
      throw new ConfigError([
        `${QUEUE_SERVICE_URI_SETTING} uses ${url.protocol.replace(":", "")}; expected https (a bearer token is sent).`,
      ]);
    }
    service = new QueueServiceClient(url.toString(), credential());
    settings = QUEUE_SERVICE_URI_SETTING;
  } else {
    throw new ConfigError([
      `${QUEUE_SERVICE_URI_SETTING} or ${QUEUE_CONNECTION} must be set for the fan-out; expected ` +
        "https://<account>.queue.core.windows.net (Azure) or an Azurite connection string.",
    ]);
  }
  const work = service.getQueueClient(DETECTION_QUEUE_NAME);
  return {
    work,
    poison: service.getQueueClient(POISON_QUEUE_NAME),
    url: new URL(service.url),
    settings,
  };
}
