// A failed run names what failed: which service, where it was reached, and which setting points
// there, so "connect ECONNREFUSED 127.0.0.1:9" no longer leaves a person guessing whether Log
// Analytics, Table Storage or the playbook is down. Pure: the caller says where each service is.
import { RestError } from "@azure/core-rest-pipeline";
import { errorLine } from "./errorLine";

/** One service a run talks to, as a failure line names it. */
export interface ServiceEndpoint {
  /** What a person calls it: "Log Analytics", "Table Storage", "the playbook". */
  service: string;
  /** Where it is reached, without secrets (no query string, no account key). */
  url: URL;
  /** The setting(s) to check, as a phrase: "LOG_ANALYTICS_ENDPOINT and LOG_ANALYTICS_WORKSPACE_ID". */
  settings: string;
}

// Codes Node's TLS layer gives a certificate it does not trust (node:tls, OpenSSL verify codes).
const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

// Codes of a request that never reached a server that answers.
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "REQUEST_TIMEOUT",
]);

/**
 * The service errors each module throws without a request of its own (a response's content).
 * MissingTableError is not among them: its message already names the table and the connector.
 */
const SERVICE_ERROR_NAMES: Record<string, string> = {
  PartialResultError: "Log Analytics",
  ResultShapeError: "Log Analytics",
  WatchlistReadError: "Log Analytics",
};

function restErrorIn(error: unknown): RestError | undefined {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    if (e instanceof RestError || (e instanceof Error && e.name === "RestError")) {
      return e;
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

function shown(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/$/, "")}`;
}

/** Which configured service a request went to: the one whose origin and path prefix it has. */
function serviceOf(requestUrl: string, services: ServiceEndpoint[]): ServiceEndpoint | undefined {
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return undefined;
  }
  const candidates = services.filter((s) => s.url.origin === url.origin);
  // Several services on one origin (one loopback host): the longest matching path wins.
  return (
    candidates
      .sort((a, b) => b.url.pathname.length - a.url.pathname.length)
      .find((s) => url.pathname.startsWith(s.url.pathname.replace(/\/$/, ""))) ?? candidates[0]
  );
}

/** One line: the failing service, where it was reached, what went wrong, and what to check. */
export function failureLine(error: unknown, services: ServiceEndpoint[]): string {
  const message = errorLine(error);
  const name = error instanceof Error ? error.name : "";
  if (/CredentialUnavailable|Authentication/.test(name)) {
    return (
      `Azure sign-in failed: ${message}; at a terminal run 'az login' (or set AZURE_CLIENT_ID ` +
      "for a managed identity)"
    );
  }
  const rest = restErrorIn(error);
  const target = rest?.request
    ? serviceOf(rest.request.url, services)
    : services.find((s) => s.service === SERVICE_ERROR_NAMES[name]);
  if (!target) return message;
  const where = `${target.service} at ${shown(target.url)}`;
  const code = rest?.code ?? "";
  if (TLS_CODES.has(code)) {
    return (
      `${where}: TLS certificate of ${target.url.host} not trusted (${message}); ` +
      `add its CA certificate to NODE_EXTRA_CA_CERTS, or check ${target.settings}`
    );
  }
  if (UNREACHABLE_CODES.has(code)) {
    return `${where} cannot be reached (${message}); check ${target.settings}`;
  }
  if (rest?.statusCode !== undefined) {
    return `${where} answered HTTP ${rest.statusCode} (${message}); check ${target.settings}`;
  }
  return `${where}: ${message}; check ${target.settings}`;
}
