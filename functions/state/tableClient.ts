import type { TokenCredential } from "@azure/core-auth";
import { retryPolicy, type PipelinePolicy, type RetryStrategy } from "@azure/core-rest-pipeline";
import { TableClient, type TableServiceClientOptions } from "@azure/data-tables";
import type { StateTableTarget } from "../config/config";
import { isLoopbackUrl } from "../config/config";

/**
 * Opens the state table: Entra ID against an endpoint, or a (local) connection string. The
 * credential is asked for only in the first case.
 */
export function createTableClient(
  target: StateTableTarget,
  credential: () => TokenCredential,
  extraPolicies: PipelinePolicy[] = [],
): TableClient {
  const options: TableServiceClientOptions = {
    additionalPolicies: [
      { policy: retryPolicy([brokenSocketRetry], { maxRetries: 3 }), position: "perCall" },
      ...extraPolicies.map((policy) => ({ policy, position: "perCall" as const })),
    ],
  };
  if (target.kind === "endpoint") {
    return new TableClient(target.endpoint, target.tableName, credential(), options);
  }
  return TableClient.fromConnectionString(target.connectionString, target.tableName, {
    ...options,
    // Azurite speaks plain http on loopback; anything else must be https.
    allowInsecureConnection: connectionStringIsLoopbackHttp(target.connectionString),
  });
}

// The SDK's default retry covers ECONNRESET, ETIMEDOUT and the like, not EPIPE: a write on a
// connection the server closed while it sat idle. Every table write here is idempotent (upserts,
// ETag-guarded updates, deletes of keys), so sending it again on a new connection is safe.
const RETRIED_SOCKET_ERRORS = new Set(["EPIPE", "ECONNRESET", "ECONNABORTED"]);
const SOCKET_RETRY_DELAY_MS = 200;

/** Retry strategy for writes that failed on a broken socket, for the SDK's retry policy. */
export const brokenSocketRetry: RetryStrategy = {
  name: "brokenSocketRetry",
  retry({ retryCount, responseError }) {
    if (!responseError?.code || !RETRIED_SOCKET_ERRORS.has(responseError.code)) {
      return { skipStrategy: true };
    }
    return { retryAfterInMs: SOCKET_RETRY_DELAY_MS * 2 ** retryCount };
  },
};

function connectionStringIsLoopbackHttp(connectionString: string): boolean {
  if (/UseDevelopmentStorage=true/i.test(connectionString)) return true;
  const endpoint = /TableEndpoint=([^;]+)/i.exec(connectionString)?.[1];
  if (!endpoint) return false;
  try {
    const url = new URL(endpoint);
    return url.protocol === "http:" && isLoopbackUrl(url);
  } catch {
    return false;
  }
}
