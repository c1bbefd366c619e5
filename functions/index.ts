// Entry point of the function app (package.json "main"): registers its functions.
//
// Deployed (infra/modules/function-app.bicep sets DETECTION_QUEUE__queueServiceUri), the app fans
// out: a timer tick enqueues one message per detection and a queue worker runs one detection per
// message, so Flex Consumption scales the runs out (functions/fanout/). Without a queue
// connection (a local Functions host, the package test) the one timer runs the detection itself.
import { app } from "@azure/functions";
import { createDetectionHandler, FUNCTION_NAME } from "./detectionFunction";
import {
  createTickHandler,
  createWorkerHandler,
  lazyRunner,
  TICK_FUNCTION_NAME,
  WORKER_FUNCTION_NAME,
} from "./fanout/functions";
import { DETECTION_QUEUE_NAME, fanOutConfigured, QUEUE_CONNECTION } from "./fanout/queues";

const timer = {
  // NCRONTAB from the DETECTION_SCHEDULE app setting (default every 5 minutes, set by the Bicep).
  schedule: "%DETECTION_SCHEDULE%",
  // A failed tick is retried a few times within the slot; state (and, fanned out, each
  // detection's lease) makes a repeated run or message safe.
  retry: {
    strategy: "exponentialBackoff" as const,
    maxRetryCount: 3,
    minimumInterval: { seconds: 10 },
    maximumInterval: { minutes: 2 },
  },
};

if (fanOutConfigured(process.env)) {
  // One runner for both: the SDK clients and the loaded rules are built once per process.
  const runner = lazyRunner(process.env);
  app.timer(TICK_FUNCTION_NAME, {
    ...timer,
    handler: createTickHandler(process.env, { runner }),
  });
  // While a run goes on, its message stays invisible: the host receives it for 10 minutes and
  // renews that at half time until the function returns (Storage Queues extension, QueueListener
  // `_visibilityTimeout`; functions-bindings-storage-queue-trigger, "Peek lock"), and
  // functionTimeout (host.json, 10 minutes) is above RUN_BUDGET's 9-minute maximum.
  // No retry policy: a queue trigger retries by the message's dequeue count, then the poison
  // queue (host.json extensions.queues; functions-bindings-error-pages, "Retry policies": Cosmos DB, Event Hubs, Kafka and timer only).
  app.storageQueue(WORKER_FUNCTION_NAME, {
    queueName: DETECTION_QUEUE_NAME,
    connection: QUEUE_CONNECTION,
    handler: createWorkerHandler(process.env, { runner }),
  });
} else {
  app.timer(FUNCTION_NAME, { ...timer, handler: createDetectionHandler(process.env) });
}
