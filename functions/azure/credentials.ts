import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";

/** Where the code runs decides how it signs in to Azure. */
export type Host = "function" | "cli";

/**
 * The Azure credential for a host: the function's user-assigned managed identity in Azure, or
 * the developer's sign-in (az login, VS Code, environment) at a terminal.
 */
export function azureCredential(
  host: Host,
  managedIdentityClientId: string | undefined,
): TokenCredential {
  if (host === "function") {
    return managedIdentityClientId
      ? new ManagedIdentityCredential({ clientId: managedIdentityClientId })
      : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(
    managedIdentityClientId ? { managedIdentityClientId } : undefined,
  );
}

/**
 * A fixed token for the local stand-ins: they only check that one is sent, and no Azure
 * credential may be asked (it would probe the instance metadata service).
 */
export class LocalStandinCredential implements TokenCredential {
  /** Returns a fixed bearer token valid for an hour. */
  getToken(): Promise<AccessToken> {
    return Promise.resolve({
      token: "local-standin-token",
      expiresOnTimestamp: Date.now() + 3_600_000,
    });
  }
}
