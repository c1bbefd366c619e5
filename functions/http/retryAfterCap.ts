import type { PipelinePolicy } from "@azure/core-rest-pipeline";

const RETRY_AFTER_HEADERS = ["retry-after-ms", "x-ms-retry-after-ms", "retry-after"] as const;

/**
 * Caps a server's Retry-After so a throttled run still ends within the function's timeout. It
 * runs per retry, inside the SDK's retry policy, so the retry policy sees the capped value.
 */
export function retryAfterCapPolicy(maxWaitMs: number): PipelinePolicy {
  return {
    name: "retryAfterCapPolicy",
    async sendRequest(request, next) {
      const response = await next(request);
      for (const header of RETRY_AFTER_HEADERS) {
        const value = response.headers.get(header);
        if (value === undefined) continue;
        const inMs = header === "retry-after" ? retryAfterMs(value) : Number(value);
        if (Number.isFinite(inMs) && inMs > maxWaitMs) {
          response.headers.set(
            header,
            header === "retry-after" ? String(Math.floor(maxWaitMs / 1000)) : String(maxWaitMs),
          );
        }
      }
      return response;
    },
  };
}

// Retry-After is either delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
function retryAfterMs(value: string): number {
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  return Date.parse(value) - Date.now();
}
