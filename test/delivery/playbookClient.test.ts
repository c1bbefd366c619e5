import { Agent, createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { LOCAL_STANDIN_IDENTITY, LocalStandinCredential } from "../../functions/azure/credentials";
import {
  PlaybookClient,
  redactUrl,
  type PlaybookClientOptions,
} from "../../functions/delivery/playbookClient";
import type { IncidentPayload } from "../../functions/incidents/payload";
import { freeLoopbackPort } from "../../sandbox/loopback";
import { startPlaybookReceiver, type PlaybookReceiver } from "../../sandbox/playbookReceiver";
import { createLoopbackCertificate, type LoopbackCertificate } from "../../sandbox/tls";

const payload = {
  incidentId: "6a1f30c5-6ab7-53ce-9046-d8c31012a303",
  title: "t",
} as IncidentPayload;
const fast: PlaybookClientOptions = {
  timeoutMs: 2000,
  maxRetries: 3,
  maxRetryAfterMs: 50,
  retryDelayMs: 10,
};

let tls: LoopbackCertificate;
let agent: Agent;
let receiver: PlaybookReceiver;

beforeAll(async () => {
  tls = await createLoopbackCertificate();
  agent = new Agent({ ca: tls.cert });
});
beforeEach(async () => {
  receiver = await startPlaybookReceiver({ tls });
});
afterEach(() => receiver.close());
afterAll(() => agent.destroy());

const AUDIENCE = "https://management.azure.com/";

function client(
  options: Partial<PlaybookClientOptions> = {},
  url = receiver.url,
  credential = new LocalStandinCredential(),
): PlaybookClient {
  return new PlaybookClient(
    new URL(url),
    { credential, audience: AUDIENCE },
    { ...fast, agent, ...options },
  );
}

/** The ingest playbook's answer once the rows are in. */
const ingested = JSON.stringify({ incidentId: payload.incidentId, rows: 0, runId: "r" });

describe("PlaybookClient", () => {
  it("posts the incident as JSON and reports delivery", async () => {
    await expect(client().post(payload)).resolves.toEqual({ outcome: "delivered", status: 200 });
    expect(receiver.received[0].headers["content-type"]).toBe("application/json");
    expect(receiver.received[0].headers["x-ms-client-tracking-id"]).toBe(payload.incidentId);
    expect(receiver.incidentsById.get(payload.incidentId)).toEqual(payload);
  });

  it("retries 5xx and 429 within the run, then delivers", async () => {
    receiver.respondWith(500, 1);
    receiver.respondWith(503, 1);
    receiver.respondWith(429, 1, { "Retry-After": "1" });
    await expect(client().post(payload)).resolves.toMatchObject({ outcome: "delivered" });
    expect(receiver.received.map((r) => r.status)).toEqual([500, 503, 429, 200]);
  });

  it("caps a long Retry-After instead of outliving the function timeout", async () => {
    receiver.respondWith(429, 1, { "Retry-After": "86400" });
    const started = process.hrtime.bigint();
    await expect(client({ maxRetryAfterMs: 1000 }).post(payload)).resolves.toMatchObject({
      outcome: "delivered",
    });
    // Bounded by the cap, not the day the server asked for (a bound, not a timing assertion).
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(60_000);
    expect(receiver.received).toHaveLength(2);
  });

  it("retries a 429 that gives no Retry-After, with backoff, within the run", async () => {
    receiver.respondWith(429, 2);
    await expect(client().post(payload)).resolves.toMatchObject({ outcome: "delivered" });
    expect(receiver.received.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it("retries a request that timed out, within the run", async () => {
    let requests = 0;
    // The first request never gets an answer; the second does.
    const slowOnce: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      requests += 1;
      if (requests > 1) req.resume().on("end", () => res.end(ingested));
    });
    await new Promise<void>((resolve) => slowOnce.listen(0, "127.0.0.1", resolve));
    const { port } = slowOnce.address() as AddressInfo;
    try {
      const result = await client({ timeoutMs: 200 }, `https://127.0.0.1:${port}/playbook`).post(
        payload,
      );
      expect(result).toMatchObject({ outcome: "delivered" });
      expect(requests).toBe(2);
    } finally {
      slowOnce.closeAllConnections();
      await new Promise((resolve) => slowOnce.close(resolve));
    }
  });

  it.each([301, 302, 307, 308])(
    "parks a %i redirect for a human, never following it to another address",
    async (status) => {
      receiver.respondWith(status, 1, {
        Location: "https://127.0.0.1:1/elsewhere?sig=OTHER",
      });
      const result = await client().post(payload);
      expect(result).toMatchObject({ outcome: "rejected", status });
      expect("error" in result ? result.error : "").toMatch(
        new RegExp(
          `^HTTP ${status} from .*: the playbook answered with a redirect to https://127\\.0\\.0\\.1:1/elsewhere, which is not followed; check PLAYBOOK_URL`,
        ),
      );
      expect(JSON.stringify(result)).not.toContain("OTHER");
      expect(receiver.received).toHaveLength(1);
    },
  );

  it("leaves an incident for the next run when retries are exhausted", async () => {
    receiver.respondWith(502, 10);
    const result = await client({ maxRetries: 2 }).post(payload);
    expect(result).toMatchObject({ outcome: "retry-later" });
    expect(receiver.received).toHaveLength(3);
  });

  it("does not retry other 4xx: retrying cannot fix a rejected payload", async () => {
    receiver.respondWith(400, 5);
    const result = await client().post(payload);
    expect(result).toMatchObject({ outcome: "rejected", status: 400 });
    expect(receiver.received).toHaveLength(1);
  });

  it.each([400, 413])(
    "treats the playbook's %i (the Logs Ingestion API refused the rows for good) as rejected, with the API's error",
    async (status) => {
      receiver.respondWith(status, 5, undefined, {
        ingestionStatus: status,
        ingestionError: { code: "InvalidStream", message: "rows do not match the stream" },
      });
      const result = await client().post(payload);
      expect(result).toMatchObject({ outcome: "rejected", status });
      expect("error" in result ? result.error : "").toContain("rows do not match the stream");
      expect(receiver.received).toHaveLength(1);
    },
  );

  // The playbook answers 502 for the ingestion API's own 403, 408, 429 and 5xx; 408, 429 and 5xx
  // may also come from Logic Apps itself.
  it.each([408, 429, 500, 502, 503])("keeps %i retryable", async (status) => {
    receiver.respondWith(status, 10);
    const result = await client({ maxRetries: 1 }).post(payload);
    expect(result.outcome).toBe("retry-later");
    expect(receiver.received).toHaveLength(2);
  });

  it("treats a refused connection as retry-later and never shows the trigger signature", async () => {
    const port = await freeLoopbackPort();
    const url = `https://127.0.0.1:${port}/workflows/x/invoke?api-version=2016-10-01&sig=SECRET`;
    const result = await client({ maxRetries: 1 }, url).post(payload);
    expect(result.outcome).toBe("retry-later");
    expect("error" in result ? result.error : "").toMatch(/ECONNREFUSED/);
    expect(JSON.stringify(result)).not.toContain("SECRET");
    expect(redactUrl(new URL(url))).toBe(`https://127.0.0.1:${port}/workflows/x/invoke`);
  });

  it("never sends its token over plain http", async () => {
    const plain = await startPlaybookReceiver();
    try {
      const result = await client({}, plain.url).post(payload);
      expect(result.outcome).toBe("retry-later");
      expect("error" in result ? result.error : "").toMatch(/non-TLS/);
      expect(plain.received).toHaveLength(0);
    } finally {
      await plain.close();
    }
  });

  it("sends its identity's bearer token for the audience, the trigger URL without a signature", async () => {
    await expect(client().post(payload)).resolves.toMatchObject({ outcome: "delivered" });
    const [post] = receiver.received;
    const token = /^Bearer (.+)$/.exec(post.headers.authorization ?? "")?.[1] ?? "";
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()) as {
      aud: string;
      appid: string;
    };
    expect(claims).toMatchObject({ aud: AUDIENCE, appid: LOCAL_STANDIN_IDENTITY.clientId });
  });

  // What the trigger answers calls it does not let in (sandbox/playbookReceiver.ts) and how the
  // function takes each: a configuration error, parked for a human, never posted again.
  it("parks a token for another identity (401) as a configuration error, without retrying", async () => {
    const other = new LocalStandinCredential({
      ...LOCAL_STANDIN_IDENTITY,
      clientId: "11111111-1111-4111-8111-111111111111",
    });
    const result = await client({}, receiver.url, other).post(payload);
    expect(result).toMatchObject({ outcome: "rejected", status: 401 });
    expect("error" in result ? result.error : "").toMatch(
      /refused the function's token \(configuration error: .*PLAYBOOK_TOKEN_AUDIENCE.*MisMatchingOAuthClaims/,
    );
    expect(receiver.received).toHaveLength(1);
    expect(receiver.incidentsById.size).toBe(0);
  });

  it("parks a 403 as a configuration error too", async () => {
    receiver.respondWith(403, 5);
    const result = await client().post(payload);
    expect(result).toMatchObject({ outcome: "rejected", status: 403 });
    expect("error" in result ? result.error : "").toMatch(/configuration error/);
    expect(receiver.received).toHaveLength(1);
  });

  it("parks a SAS-only call the trigger skips (202, no playbook answer) as not delivered", async () => {
    // The token is sent, but a SAS signature as well: Logic Apps refuses two schemes (400)...
    const both = await client({}, `${receiver.url}?api-version=2016-10-01&sig=SECRET`).post(
      payload,
    );
    expect(both).toMatchObject({ outcome: "rejected", status: 400 });
    expect(JSON.stringify(both)).not.toContain("SECRET");
    // ...and any 2xx that is not the playbook's own answer is not taken as delivered.
    receiver.respondWith(202, 1, undefined, "");
    const skipped = await client().post(payload);
    expect(skipped).toMatchObject({ outcome: "rejected", status: 202 });
    expect("error" in skipped ? skipped.error : "").toMatch(
      /without the playbook's answer: the trigger did not run the playbook \(configuration error/,
    );
    expect(receiver.incidentsById.size).toBe(0);
  });

  it("bounds a request that never answers with the timeout", async () => {
    const silent: Server = createServer({ key: tls.key, cert: tls.cert }, () => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const result = await client(
        { timeoutMs: 200, maxRetries: 0 },
        `https://127.0.0.1:${port}/playbook`,
      ).post(payload);
      expect(result.outcome).toBe("retry-later");
      expect("error" in result ? result.error : "").toMatch(/timed out: no response within 200 ms/);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
