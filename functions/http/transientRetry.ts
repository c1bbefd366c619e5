// Retrying what may succeed a moment later, for Log Analytics and the playbook alike.
//
// core-rest-pipeline's default retry policy leaves two gaps this closes (its strategies, read in
// @typespec/ts-http-runtime's retryStrategies): a 429 without Retry-After matches neither its
// throttling strategy (which needs the header) nor its exponential one (408 and 5xx only), and a
// request timeout surfaces as an AbortError, which its retry loop rethrows without asking any
// strategy. Here one strategy, run by the library's own retryPolicy, retries 408, 429 and 5xx
// (not 501 or 505) and network errors, honouring Retry-After, with exponential backoff and
// jitter otherwise; and a per-attempt policy turns an attempt's own timeout into a retryable
// error, while the caller's abort (the run's deadline) still stops everything.
import {
  RestError,
  retryPolicy,
  type PipelinePolicy,
  type PipelineResponse,
  type RetryStrategy,
} from "@azure/core-rest-pipeline";

/** The error code an attempt that timed out gets, so the strategy can retry it. */
export const REQUEST_TIMEOUT = "REQUEST_TIMEOUT";

const NETWORK_ERRORS = new Set([
  REQUEST_TIMEOUT,
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** How often and how long to retry. */
export interface TransientRetryOptions {
  maxRetries: number;
  /** First backoff step; doubled per retry, jittered. */
  retryDelayMs: number;
  /** Longest single wait, Retry-After included. */
  maxRetryDelayMs: number;
}

/** Whether a status may go away on its own: timeout, throttling, server trouble. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** A server's Retry-After in milliseconds (retry-after-ms, x-ms-retry-after-ms or Retry-After). */
export function retryAfterOf(response: PipelineResponse): number | undefined {
  for (const header of ["retry-after-ms", "x-ms-retry-after-ms"]) {
    const ms = Number(response.headers.get(header) ?? Number.NaN);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  const value = response.headers.get("retry-after");
  if (value === undefined) return undefined;
  // delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

function transientRetryStrategy(options: TransientRetryOptions): RetryStrategy {
  return {
    name: "transientRetryStrategy",
    retry({ retryCount, response, responseError }) {
      const transient =
        response !== undefined
          ? isTransientStatus(response.status)
          : NETWORK_ERRORS.has(responseError?.code ?? "");
      if (!transient) return { skipStrategy: true };
      const told = response ? retryAfterOf(response) : undefined;
      if (told !== undefined) return { retryAfterInMs: Math.min(told, options.maxRetryDelayMs) };
      const step = Math.min(options.maxRetryDelayMs, options.retryDelayMs * 2 ** retryCount);
      return { retryAfterInMs: step / 2 + Math.random() * (step / 2) };
    },
  };
}

/** The retry policy: put it where the pipeline's own retry runs, with that one set to 0. */
export function transientRetryPolicy(options: TransientRetryOptions): PipelinePolicy {
  return retryPolicy([transientRetryStrategy(options)], { maxRetries: options.maxRetries });
}

/**
 * Per attempt (inside the retry policy): an attempt cut off by its own timeout becomes a
 * RestError coded REQUEST_TIMEOUT, which the strategy retries. An abort the caller asked for
 * (its abortSignal fired) stays an abort.
 */
export function attemptTimeoutPolicy(): PipelinePolicy {
  return {
    name: "attemptTimeoutPolicy",
    async sendRequest(request, next) {
      try {
        return await next(request);
      } catch (error) {
        const aborted = error instanceof Error && error.name === "AbortError";
        if (!aborted || request.abortSignal?.aborted) throw error;
        throw new RestError(`request timed out: no response within ${request.timeout} ms`, {
          code: REQUEST_TIMEOUT,
          request,
        });
      }
    },
  };
}
