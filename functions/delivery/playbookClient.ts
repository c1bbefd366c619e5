import type { Agent } from "node:https";
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import type { IncidentPayload } from "../incidents/payload";
import { retryAfterCapPolicy } from "../http/retryAfterCap";
import { failureLine } from "../run/failureLine";
import {
  attemptTimeoutPolicy,
  isTransientStatus,
  transientRetryPolicy,
} from "../http/transientRetry";

/** What became of one POST to the playbook, after the pipeline's own retries. */
export type DeliveryResult =
  | { outcome: "delivered"; status: number }
  /** 408, 429, 5xx, a timeout or a network failure: the outbox keeps it for the next run. */
  | { outcome: "retry-later"; error: string }
  /** A redirect (3xx, never followed) or any other 4xx: retrying cannot help; a human must look. */
  | { outcome: "rejected"; status: number; error: string };

export interface PlaybookClientOptions {
  timeoutMs: number;
  maxRetries: number;
  maxRetryAfterMs: number;
  /** Only for local stand-ins whose certificate the process does not already trust. */
  agent?: Agent;
  /** First backoff step; tests shorten it. */
  retryDelayMs?: number;
}

/** Limits a caller puts on one post, retries included. */
export interface PostLimits {
  /** Shorter per-attempt timeout than the configured one. */
  timeoutMs?: number;
  /** Aborts the post and its retries (the run's deadline). */
  abortSignal?: AbortSignal;
}

/** The playbook URL without its query string, which carries the trigger's signature. */
export function redactUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Posts incidents to the Logic App trigger with timeout, backoff with jitter, and capped Retry-After. */
export class PlaybookClient {
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient = createDefaultHttpClient();

  constructor(
    private readonly url: URL,
    private readonly options: PlaybookClientOptions,
  ) {
    this.pipeline = createPipelineFromOptions({
      // transientRetryPolicy below retries (408, 429 with or without Retry-After, 5xx, timeouts,
      // network errors; backoff with jitter); the pipeline's own would skip some of them.
      retryOptions: { maxRetries: 0 },
      // A redirect is never followed: the trigger's signed URL is the only place incidents go.
      redirectOptions: { maxRetries: 0 },
      userAgentOptions: { userAgentPrefix: "nbtscan-detector" },
      // An https agent cannot carry plain http (the loopback receiver).
      ...(options.agent && url.protocol === "https:" ? { agent: options.agent } : {}),
    });
    this.pipeline.addPolicy(
      transientRetryPolicy({
        maxRetries: options.maxRetries,
        retryDelayMs: options.retryDelayMs ?? 1000,
        maxRetryDelayMs: options.maxRetryAfterMs,
      }),
      { phase: "Retry" },
    );
    this.pipeline.addPolicy(retryAfterCapPolicy(options.maxRetryAfterMs), { afterPhase: "Retry" });
    this.pipeline.addPolicy(attemptTimeoutPolicy(), { afterPhase: "Retry" });
  }

  /**
   * Sends one incident; never throws for HTTP or network failures, it classifies them. A run
   * passes `within` so that neither one attempt nor the retries outlast its budget.
   */
  async post(payload: IncidentPayload, within: PostLimits = {}): Promise<DeliveryResult> {
    const request = createPipelineRequest({
      url: this.url.toString(),
      method: "POST",
      body: JSON.stringify(payload),
      headers: createHttpHeaders({
        "content-type": "application/json",
        "x-ms-client-tracking-id": payload.incidentId,
      }),
      timeout: Math.min(this.options.timeoutMs, within.timeoutMs ?? Infinity),
      abortSignal: within.abortSignal,
      // Configuration only admits http on loopback (the local receiver); Azure is https.
      allowInsecureConnection: this.url.protocol === "http:",
    });
    try {
      const response = await this.pipeline.sendRequest(this.httpClient, request);
      const status = response.status;
      if (status >= 200 && status < 300) return { outcome: "delivered", status };
      if (status >= 300 && status < 400) {
        return { outcome: "rejected", status, error: this.redirectError(status, response) };
      }
      const error = `HTTP ${status} from ${redactUrl(this.url)}: ${(response.bodyAsText ?? "").slice(0, 500)}`;
      if (isTransientStatus(status)) return { outcome: "retry-later", error };
      return { outcome: "rejected", status, error };
    } catch (error) {
      const where = { service: "the playbook", url: this.url, settings: "PLAYBOOK_URL" };
      return { outcome: "retry-later", error: failureLine(error, [where]) };
    }
  }

  // A Logic App trigger answers 2xx or an error, never a redirect; one means PLAYBOOK_URL points
  // somewhere else (an old or mistyped URL, a proxy). Following it would send the incident to
  // an address nobody configured, so it is parked for a human instead.
  private redirectError(status: number, response: PipelineResponse): string {
    const location = response.headers.get("location");
    let target = "";
    try {
      if (location) target = ` to ${redactUrl(new URL(location, this.url))}`;
    } catch {
      target = " to an invalid Location";
    }
    return (
      `HTTP ${status} from ${redactUrl(this.url)}: the playbook answered with a redirect${target}, ` +
      "which is not followed; check PLAYBOOK_URL (the trigger's current callback URL)"
    );
  }
}
