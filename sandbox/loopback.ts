import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import { createServer as createNetServer, type Server } from "node:net";

// Helpers shared by the local stand-ins. Everything binds to 127.0.0.1 only: the stand-ins are
// test doubles, never reachable from another host.

/** The only address the stand-ins listen on. */
export const LOOPBACK = "127.0.0.1";

/** Starts listening on a free 127.0.0.1 port and resolves with the port. */
export function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => {
      server.off("error", reject);
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error("server is not listening on a TCP port"));
        return;
      }
      resolve(address.port);
    });
  });
}

/** Stops accepting connections, drops idle keep-alive ones, and resolves once closed. */
export function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // SDK clients keep connections alive; without this, close() waits for them to time out.
    server.closeAllConnections();
  });
}

/** Finds a free loopback port by listening on port 0 and closing again. */
export async function freeLoopbackPort(): Promise<number> {
  const probe = createNetServer();
  const port = await listenOnLoopback(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Reads a request body as UTF-8 text, refusing bodies over the limit. */
export function readBody(req: IncomingMessage, limitBytes = 4 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        reject(new Error(`request body exceeds ${limitBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Sends a JSON response with the given status and extra headers. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    ...(text === "" ? {} : { "Content-Type": "application/json; charset=utf-8" }),
    "Content-Length": Buffer.byteLength(text).toString(),
    ...headers,
  });
  res.end(text);
}

/**
 * A request listener around an async handler: an error it throws is answered with a 500
 * `{ error }`, or, once the headers are out, by dropping the connection.
 */
export function catchAs500(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) sendJson(res, 500, { error: { code: "InternalServerError", message } });
      else res.destroy();
    });
  };
}
