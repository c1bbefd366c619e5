import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import {
  catchAs500,
  closeServer,
  listenOnLoopback,
  LOOPBACK,
  readBody,
  sendJson,
} from "./loopback";
import { LOCAL_STANDIN_IDENTITY } from "../functions/azure/credentials";
import { SETTINGS } from "../functions/config/settings";
import type { LoopbackCertificate } from "./tls";

// A stand-in for the ingest playbook's Request trigger (infra/modules/playbook.bicep). It records
// every POST, keeps the latest incident per incidentId (a redelivery updates rather than
// duplicates), answers as the playbook does once the rows are in, and can be scripted to fail so
// delivery retries can be exercised.
//
// Who may call, as the deployed trigger decides it, in this order:
// - A call with both a SAS signature (sig in the query) and an Authorization header: 400
//   DirectApiRequestHasMoreThanOneAuthorization ("using both schemes at the same time causes an
//   error", logic-apps-securing-a-logic-app.md#considerations-before-you-enable-azure-ad-oauth;
//   the code as reported in Azure/logicapps#1157).
// - Neither: 401 DirectApiAuthorizationRequired (as reported in MicrosoftDocs/azure-docs#60706).
// - A bearer token whose claims do not all match the authorization policy (iss, aud, appid): 401
//   MisMatchingOAuthClaims ("One or more claims either missing or does not match with the open
//   authentication access control policy", MicrosoftDocs/power-automate-docs#1178). Logic Apps
//   also checks the token's signature against Entra; the stand-in's tokens are unsigned
//   (LocalStandinCredential), so it checks claims and expiry only.
// - SAS only: the signature is valid, but the trigger condition
//   @startsWith(triggerOutputs()?['headers']?['Authorization'], 'Bearer') is false, so the run is
//   Skipped (logic-apps-securing-a-logic-app.md, "Enable Microsoft Entra ID OAuth as the only
//   option"). The status the caller gets is not documented; the stand-in answers 202 with no
//   body, and the function must not take anything but the playbook's own answer as delivered.
// Then the schema check (the trigger's Schema Validation: 400, connectors-native-reqres.md).

/** The claims the trigger's authorization policy requires (playbook.bicep's callerPolicy). */
export interface AuthorizationPolicy {
  tenantId: string;
  audience: string;
  /** The calling managed identity's client id (the v1 token's appid). */
  clientId: string;
}

/** The policy the deployed playbook would have for the sandbox's function identity. */
export function localAuthorizationPolicy(): AuthorizationPolicy {
  const audience = SETTINGS.find((s) => s.name === "PLAYBOOK_TOKEN_AUDIENCE");
  if (audience === undefined || !("default" in audience)) {
    throw new Error("PLAYBOOK_TOKEN_AUDIENCE has no default");
  }
  return {
    tenantId: LOCAL_STANDIN_IDENTITY.tenantId,
    audience: audience.default,
    clientId: LOCAL_STANDIN_IDENTITY.clientId,
  };
}

/** How to start the receiver. */
export interface PlaybookReceiverOptions {
  /** Serve HTTPS with this certificate; plain HTTP without. */
  tls?: LoopbackCertificate;
  /** Whose token is accepted; by default the sandbox function's (localAuthorizationPolicy). */
  policy?: AuthorizationPolicy;
  /** Schema check, as a trigger with schema validation does: throw to answer 400. */
  validate?: (body: unknown) => void;
}

/** One POST to /playbook and the status it got. */
export interface ReceivedPost {
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined when it was not JSON or the POST got a scripted failure. */
  body: unknown;
  /** The body as sent, whatever the answer. */
  rawBody: string;
  status: number;
}

/** A JSON object body. */
export type JsonObject = Record<string, unknown>;

/** A running receiver. */
export interface PlaybookReceiver {
  /** Where to POST: http(s)://127.0.0.1:<port>/playbook */
  url: string;
  received: ReceivedPost[];
  /** The latest accepted body for each incidentId. */
  incidentsById: Map<string, JsonObject>;
  /**
   * The next `times` POSTs (default 1) get `status` instead of being accepted, with `body` when
   * given (e.g. the playbook's answer carrying the Logs Ingestion API's error).
   */
  respondWith(
    status: number,
    times?: number,
    headers?: Record<string, string>,
    body?: unknown,
  ): void;
  close(): Promise<void>;
}

const PATH = "/playbook";

interface Scripted {
  status: number;
  times: number;
  headers?: Record<string, string>;
  body?: unknown;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function badRequest(message: string): Reply {
  return { status: 400, body: { error: { code: "InvalidRequestContent", message } } };
}

function refused(status: number, code: string, message: string): Reply {
  return { status, body: { error: { code, message } } };
}

/** The claims of a JWT's payload, or undefined when the token is not one. */
function claimsOf(token: string): Record<string, unknown> | undefined {
  const [, payload] = token.split(".");
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return isJsonObject(claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** Logic Apps' decision on who calls (see the list at the top); undefined lets the call in. */
function authorize(req: IncomingMessage, policy: AuthorizationPolicy): Reply | undefined {
  const { searchParams } = new URL(req.url ?? "/", `http://${LOOPBACK}`);
  const sas = searchParams.has("sig");
  const authorization = req.headers.authorization;
  if (sas && authorization !== undefined) {
    return refused(
      400,
      "DirectApiRequestHasMoreThanOneAuthorization",
      "The request has SAS authentication scheme and 'Bearer' authorization scheme. Only one scheme should be used.",
    );
  }
  if (sas) return { status: 202, body: undefined };
  if (authorization === undefined) {
    return refused(
      401,
      "DirectApiAuthorizationRequired",
      "The request must be authenticated by Shared Access scheme or OAuth.",
    );
  }
  const bearer = /^Bearer (\S+)$/.exec(authorization);
  const claims = bearer ? claimsOf(bearer[1]) : undefined;
  const required: Record<string, string> = {
    iss: `https://sts.windows.net/${policy.tenantId}/`,
    aud: policy.audience,
    appid: policy.clientId,
  };
  const matches =
    claims !== undefined &&
    Object.entries(required).every(([name, value]) => claims[name] === value) &&
    typeof claims.exp === "number" &&
    claims.exp * 1000 > Date.now();
  if (!matches) {
    return refused(
      401,
      "MisMatchingOAuthClaims",
      "One or more claims either missing or does not match with the open authentication access control policy.",
    );
  }
  return undefined;
}

/** Starts the playbook receiver on 127.0.0.1. */
export async function startPlaybookReceiver(
  options: PlaybookReceiverOptions = {},
): Promise<PlaybookReceiver> {
  const received: ReceivedPost[] = [];
  const incidentsById = new Map<string, JsonObject>();
  const scripted: Scripted[] = [];

  const policy = options.policy ?? localAuthorizationPolicy();

  function accept(req: IncomingMessage, rawBody: string, post: ReceivedPost): Reply {
    const denied = authorize(req, policy);
    if (denied) return denied;
    const next = scripted[0];
    if (next) {
      if (--next.times <= 0) scripted.shift();
      return {
        status: next.status,
        headers: next.headers,
        body: next.body ?? {
          error: { code: "ScriptedFailure", message: `Scripted HTTP ${next.status}` },
        },
      };
    }
    if (!/^application\/(.+\+)?json\b/i.test(req.headers["content-type"] ?? "")) {
      return badRequest("Content-Type must be application/json");
    }
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      return badRequest("The request body is not valid JSON");
    }
    post.body = body;
    if (!isJsonObject(body) || typeof body.incidentId !== "string" || body.incidentId === "") {
      return badRequest("The body must be a JSON object with a non-empty string incidentId");
    }
    try {
      options.validate?.(body);
    } catch (error) {
      return badRequest(error instanceof Error ? error.message : String(error));
    }
    incidentsById.set(body.incidentId, body);
    // The playbook's own answer (Respond_ingested): the id, the rows ingested and its run.
    const rows = Array.isArray(body.alertRows) ? body.alertRows.length : 0;
    return {
      status: 200,
      body: { incidentId: body.incidentId, rows, runId: `local-run-${received.length}` },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const { pathname } = new URL(req.url ?? "/", `http://${LOOPBACK}`);
    if (pathname !== PATH) {
      sendJson(res, 404, { error: { code: "NotFound", message: `No trigger at ${pathname}` } });
      return;
    }
    if (req.method !== "POST") {
      sendJson(
        res,
        405,
        { error: { code: "MethodNotAllowed", message: "Use POST" } },
        { Allow: "POST" },
      );
      return;
    }
    const post: ReceivedPost = {
      headers: req.headers,
      body: undefined,
      rawBody,
      status: 0,
    };
    received.push(post);
    const outcome = accept(req, rawBody, post);
    post.status = outcome.status;
    sendJson(res, outcome.status, outcome.body, outcome.headers);
  }

  const listener = catchAs500(handle);
  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : createHttpServer(listener);
  const port = await listenOnLoopback(server);

  return {
    url: `${options.tls ? "https" : "http"}://${LOOPBACK}:${port}${PATH}`,
    received,
    incidentsById,
    respondWith(status, times = 1, headers, body) {
      scripted.push({ status, times, headers, body });
    },
    close: () => closeServer(server),
  };
}
