import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { closeServer, listenOnLoopback, LOOPBACK } from "./loopback";

// A plain-HTTP pass-through in front of Azurite that counts what the state store asks of it:
// one Table Storage request per HTTP request (a $batch transaction counts once). The bench points
// STATE_TABLE_CONNECTION_STRING at it to report table requests per run. Shared-key signatures
// cover the path, not the host, so requests pass through unchanged.

/** A running counting proxy. */
export interface CountingProxy {
  /** The connection string to give the detection: Azurite's, with the proxy's endpoint. */
  connectionString: string;
  /** Requests forwarded so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/** Starts a counting proxy for the Azurite Table endpoint behind `connectionString`. */
export async function startCountingProxy(connectionString: string): Promise<CountingProxy> {
  const endpoint = /TableEndpoint=([^;]+)/.exec(connectionString)?.[1];
  if (!endpoint) throw new Error("the connection string has no TableEndpoint");
  const target = new URL(endpoint);
  const agent = new Agent({ keepAlive: true });
  let requests = 0;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests += 1;
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    // Azurite gone: the client sees a dropped connection, as it would without the proxy.
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  // Patient: a run that computes for a while between writes must not find its socket closed.
  server.keepAliveTimeout = 10 * 60_000;
  const port = await listenOnLoopback(server);
  const proxied = new URL(target.toString());
  proxied.port = String(port);
  proxied.hostname = LOOPBACK;

  return {
    connectionString: connectionString.replace(endpoint, proxied.toString().replace(/\/$/, "")),
    get requests() {
      return requests;
    },
    async close() {
      await closeServer(server);
      agent.destroy();
    },
  };
}
