import type { TokenCredential } from "@azure/core-auth";
import { TableClient } from "@azure/data-tables";
import type { StateTableTarget } from "../config/config";
import { isLoopbackUrl } from "../config/config";

/**
 * Opens the state table: Entra ID against an endpoint, or a (local) connection string. The
 * credential is asked for only in the first case.
 */
export function createTableClient(
  target: StateTableTarget,
  credential: () => TokenCredential,
): TableClient {
  if (target.kind === "endpoint") {
    return new TableClient(target.endpoint, target.tableName, credential());
  }
  return TableClient.fromConnectionString(target.connectionString, target.tableName, {
    // Azurite speaks plain http on loopback; anything else must be https.
    allowInsecureConnection: connectionStringIsLoopbackHttp(target.connectionString),
  });
}

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
