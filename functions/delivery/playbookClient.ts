import type { Agent } from "node:https";
import type { TokenCredential } from "@azure/core-auth";
import {
  bearerTokenAuthenticationPolicy,
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
  /**
   * Retrying cannot help; a human must look: a redirect (3xx, never followed); 401 or 403 (the
   * trigger refused the function's token: a configuration error); an answer that is not the
   * playbook's own (the trigger did not run it); the Logs Ingestion API's 400 or 413, passed back
   * by the playbook; any other 4xx.
   */
  | { outcome: "rejected"; status: number; error: string };

/** How the function proves to the playbook's trigger who it is (its authorization policy). */
export interface PlaybookAuthentication {
  credential: TokenCredential;
  /** The `aud` the policy requires, exactly (PLAYBOOK_TOKEN_AUDIENCE). */
  audience: string;
}

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

/**
 * The ingest playbook's answer once the rows were ingested (infra/modules/playbook.bicep,
 * Respond_ingested): the incident's id and how many rows went in.
 */
function isPlaybookSuccess(text: string | undefined, incidentId: string): boolean {
  try {
    const body: unknown = JSON.parse(text ?? "");
    return (
      typeof body === "object" &&
      body !== null &&
      (body as { incidentId?: unknown }).incidentId === incidentId &&
      typeof (body as { rows?: unknown }).rows === "number"
    );
  } catch {
    return false;
  }
}

/** The playbook URL without its query string (a SAS signature, if one was ever pasted in). */
export function redactUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Posts incidents to the Logic App trigger with timeout, backoff with jitter, and capped Retry-After. */
export class PlaybookClient {
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient = createDefaultHttpClient();

  constructor(
    private readonly url: URL,
    authentication: PlaybookAuthentication,
    private readonly options: PlaybookClientOptions,
  ) {
    this.pipeline = createPipelineFromOptions({
      // transientRetryPolicy below retries (408, 429 with or without Retry-After, 5xx, timeouts,
      // network errors; backoff with jitter); the pipeline's own would skip some of them.
      retryOptions: { maxRetries: 0 },
      // A redirect is never followed: PLAYBOOK_URL is the only place incidents (and the token) go.
      redirectOptions: { maxRetries: 0 },
      userAgentOptions: { userAgentPrefix: "nbtscan-detector" },
      ...(options.agent ? { agent: options.agent } : {}),
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
    // Every attempt carries the identity's token (cached and refreshed by the policy). The scope
    // is the audience plus "/.default"; a managed identity asks for the audience itself as its
    // resource, so the token's aud is the audience exactly, trailing slash included.
    this.pipeline.addPolicy(
      bearerTokenAuthenticationPolicy({
        credential: authentication.credential,
        scopes: `${authentication.audience}/.default`,
      }),
      { phase: "Sign" },
    );
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
    });
    try {
      const response = await this.pipeline.sendRequest(this.httpClient, request);
      return this.classify(response, payload.incidentId);
    } catch (error) {
      const where = { service: "the playbook", url: this.url, settings: "PLAYBOOK_URL" };
      return { outcome: "retry-later", error: failureLine(error, [where]) };
    }
  }

  private classify(response: PipelineResponse, incidentId: string): DeliveryResult {
    const status = response.status;
    const where = redactUrl(this.url);
    const body = (response.bodyAsText ?? "").slice(0, 500);
    if (status >= 200 && status < 300) {
      if (isPlaybookSuccess(response.bodyAsText ?? undefined, incidentId))
        return { outcome: "delivered", status };
      // Logic Apps answers a call its trigger condition refuses (no bearer token, e.g. a SAS-only
      // URL) by skipping the run, with no documented status; only the playbook's own answer
      // says the rows were ingested.
      return {
        outcome: "rejected",
        status,
        error:
          `HTTP ${status} from ${where} without the playbook's answer: the trigger did not run ` +
          "the playbook (configuration error: check PLAYBOOK_URL and that the call carries the " +
          `function's token) ${body}`.trimEnd(),
      };
    }
    if (status >= 300 && status < 400) {
      return { outcome: "rejected", status, error: this.redirectError(status, response) };
    }
    if (status === 401 || status === 403) {
      return {
        outcome: "rejected",
        status,
        error:
          `HTTP ${status} from ${where}: the playbook's trigger refused the function's token ` +
          "(configuration error: its authorization policy names another tenant, audience or " +
          `identity; check PLAYBOOK_TOKEN_AUDIENCE and AZURE_CLIENT_ID) ${body}`.trimEnd(),
      };
    }
    const error = `HTTP ${status} from ${where}: ${body}`;
    if (isTransientStatus(status)) return { outcome: "retry-later", error };
    return { outcome: "rejected", status, error };
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
