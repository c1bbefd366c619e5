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

/** Who a local stand-in token says it is: the claims Logic Apps' authorization policy checks. */
export interface LocalIdentity {
  tenantId: string;
  /** The `appid` claim of a v1 token: a managed identity's client id. */
  clientId: string;
  /** The `oid` claim: the identity's object (principal) id. */
  objectId: string;
}

/** The identity the sandbox's function runs as, and the one its playbook receiver accepts. */
export const LOCAL_STANDIN_IDENTITY: LocalIdentity = {
  tenantId: "00000000-0000-4000-8000-00000000a11d",
  clientId: "00000000-0000-4000-8000-0000000c11e7",
  objectId: "00000000-0000-4000-8000-000000000b1d",
};

const ONE_HOUR_MS = 3_600_000;

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/**
 * A token for the local stand-ins, shaped like the v1 access token a managed identity gets
 * (learn.microsoft.com/entra/identity-platform/access-token-claims-reference): `aud` is the
 * requested resource (the scope without "/.default", as ManagedIdentityCredential asks for it),
 * `iss` https://sts.windows.net/<tenant>/, `appid` and `oid` the identity. Unsigned: the
 * stand-ins check claims, not signatures. No Azure credential is asked, so nothing probes the
 * instance metadata service.
 */
export class LocalStandinCredential implements TokenCredential {
  constructor(private readonly identity: LocalIdentity = LOCAL_STANDIN_IDENTITY) {}

  /** Returns a bearer token for the scope, valid for an hour. */
  getToken(scopes: string | string[]): Promise<AccessToken> {
    const scope = Array.isArray(scopes) ? (scopes[0] ?? "") : scopes;
    const now = Date.now();
    const claims = {
      aud: scope.endsWith("/.default") ? scope.slice(0, -"/.default".length) : scope,
      iss: `https://sts.windows.net/${this.identity.tenantId}/`,
      iat: Math.floor(now / 1000),
      nbf: Math.floor(now / 1000),
      exp: Math.floor((now + ONE_HOUR_MS) / 1000),
      appid: this.identity.clientId,
      oid: this.identity.objectId,
      tid: this.identity.tenantId,
      ver: "1.0",
    };
    return Promise.resolve({
      token: `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`,
      expiresOnTimestamp: now + ONE_HOUR_MS,
    });
  }
}
