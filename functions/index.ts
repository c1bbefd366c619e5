// Entry point of the function app (package.json "main"): registers the timer trigger.
import { app } from "@azure/functions";
import { createDetectionHandler, FUNCTION_NAME } from "./detectionFunction";

app.timer(FUNCTION_NAME, {
  // NCRONTAB from the DETECTION_SCHEDULE app setting (default every 5 minutes, set by the Bicep).
  schedule: "%DETECTION_SCHEDULE%",
  // A failed run is retried a few times within the slot; state makes retries safe.
  retry: {
    strategy: "exponentialBackoff",
    maxRetryCount: 3,
    minimumInterval: { seconds: 10 },
    maximumInterval: { minutes: 2 },
  },
  handler: createDetectionHandler(process.env),
});
