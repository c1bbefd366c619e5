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
  /** Time the caller still has (the run's budget): no retry waits past it. */
  timeLeftMs?: () => number;
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
      const step = Math.min(options.maxRetryDelayMs, options.retryDelayMs * 2 ** retryCount);
      const wait =
        told !== undefined
          ? Math.min(told, options.maxRetryDelayMs)
          : step / 2 + Math.random() * (step / 2);
      // Out of time: give up now and let the caller report the last answer or error.
      if (wait >= (options.timeLeftMs?.() ?? Infinity)) return { skipStrategy: true };
      return { retryAfterInMs: wait };
    },
  };
}

/** The retry policy: put it where the pipeline's own retry runs, with that one set to 0. */
export function transientRetryPolicy(options: TransientRetryOptions): PipelinePolicy {
  return retryPolicy([transientRetryStrategy(options)], { maxRetries: options.maxRetries });
}

/**
 * Per attempt (inside the retry policy): the attempt's timeout is cut to the caller's time left,
 * and an attempt cut off by its timeout becomes a RestError coded REQUEST_TIMEOUT, which the
 * strategy retries while time is left. An abort the caller asked for (its abortSignal fired)
 * stays an abort.
 *
 * The timer is this policy's, not the HTTP client's: core-rest-pipeline's Node client
 * (@typespec/ts-http-runtime nodeHttpClient.js, sendRequest) clears its `request.timeout` timer
 * only when a response arrives, so a refused connection left it running for the whole timeout
 * (QUERY_TIMEOUT, PLAYBOOK_TIMEOUT) and kept the process alive after the run had ended. Here the
 * timer is cleared however the attempt ends.
 */
export function attemptTimeoutPolicy(timeLeftMs: () => number = () => Infinity): PipelinePolicy {
  return {
    name: "attemptTimeoutPolicy",
    async sendRequest(request, next) {
      // An attempt never outlasts the caller's time left (0 means no timeout to the pipeline).
      const left = Math.max(1, Math.floor(timeLeftMs()));
      const timeoutMs = Number.isFinite(left)
        ? Math.min(request.timeout || left, left)
        : request.timeout;
      if (!(timeoutMs > 0)) return next(request);
      const callerSignal = request.abortSignal;
      const attempt = new AbortController();
      const abortAttempt = (): void => attempt.abort();
      callerSignal?.addEventListener("abort", abortAttempt, { once: true });
      if (callerSignal?.aborted) attempt.abort();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        attempt.abort();
      }, timeoutMs);
      request.timeout = 0;
      request.abortSignal = attempt.signal;
      try {
        return await next(request);
      } catch (error) {
        const aborted = error instanceof Error && error.name === "AbortError";
        if (!aborted || !timedOut || callerSignal?.aborted) throw error;
        throw new RestError(`request timed out: no response within ${timeoutMs} ms`, {
          code: REQUEST_TIMEOUT,
          request,
        });
      } finally {
        clearTimeout(timer);
        callerSignal?.removeEventListener("abort", abortAttempt);
        // The retry policy sends the same request again: it gets the caller's signal and timeout back.
        request.abortSignal = callerSignal;
        request.timeout = timeoutMs;
      }
    },
  };
}
