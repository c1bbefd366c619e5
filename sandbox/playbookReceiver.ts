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
import type { LoopbackCertificate } from "./tls";

// A stand-in for the Logic App playbook's HTTP trigger. It records every POST, keeps the latest
// incident per incidentId (Sentinel creates incidents by PUT to an id, so a redelivery updates
// rather than duplicates), and can be scripted to fail so delivery retries can be exercised.

/** How to start the receiver. */
export interface PlaybookReceiverOptions {
  /** Serve HTTPS with this certificate; plain HTTP without. */
  tls?: LoopbackCertificate;
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

/** Starts the playbook receiver on 127.0.0.1. */
export async function startPlaybookReceiver(
  options: PlaybookReceiverOptions = {},
): Promise<PlaybookReceiver> {
  const received: ReceivedPost[] = [];
  const incidentsById = new Map<string, JsonObject>();
  const scripted: Scripted[] = [];

  function accept(req: IncomingMessage, rawBody: string, post: ReceivedPost): Reply {
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
    const status = incidentsById.has(body.incidentId) ? "updated" : "created";
    incidentsById.set(body.incidentId, body);
    return { status: 200, body: { status, incidentId: body.incidentId } };
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
