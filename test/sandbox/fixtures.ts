import type { IncomingHttpHeaders } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type Agent } from "node:https";
import type { AccessToken, TokenCredential } from "@azure/core-auth";

/**
 * A credential that hands out the given token, for tests that need a particular one; otherwise
 * use the product's LocalStandinCredential.
 */
export function staticCredential(token: string): TokenCredential {
  return {
    getToken: (): Promise<AccessToken> =>
      Promise.resolve({ token, expiresOnTimestamp: Date.now() + 60 * 60 * 1000 }),
  };
}

/** A response read to the end: status, headers and the body parsed as JSON when it is JSON. */
export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** Sends one request with node:http(s) and reads the whole answer. */
export function send(
  url: string,
  options: { method?: string; body?: string; headers?: Record<string, string>; agent?: Agent } = {},
): Promise<HttpReply> {
  const target = new URL(url);
  const requester = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = requester(
      target,
      { method: options.method ?? "POST", headers: options.headers, agent: options.agent },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          let body: unknown = text;
          if (/json/.test(res.headers["content-type"] ?? "")) body = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** POSTs a value as JSON. */
export function postJson(
  url: string,
  value: unknown,
  options: { headers?: Record<string, string>; agent?: Agent } = {},
): Promise<HttpReply> {
  return send(url, {
    body: JSON.stringify(value),
    headers: { "Content-Type": "application/json", ...options.headers },
    agent: options.agent,
  });
}
