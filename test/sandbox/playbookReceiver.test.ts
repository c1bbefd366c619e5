import { Agent } from "node:https";
import { LOCAL_STANDIN_IDENTITY, LocalStandinCredential } from "../../functions/azure/credentials";
import {
  localAuthorizationPolicy,
  startPlaybookReceiver,
  type PlaybookReceiver,
} from "../../sandbox/playbookReceiver";
import { createLoopbackCertificate, type LoopbackCertificate } from "../../sandbox/tls";
import { postJson, send } from "./fixtures";

const incident = (id: string, title = "nbtscan.exe on ws-fin-012") => ({ incidentId: id, title });

let tls: LoopbackCertificate;
let agent: Agent;
let receiver: PlaybookReceiver;
/** The sandbox function's Authorization header, for its playbook's audience. */
let auth: Record<string, string>;

async function bearer(credential = new LocalStandinCredential()): Promise<Record<string, string>> {
  const { token } = await credential.getToken(`${localAuthorizationPolicy().audience}/.default`);
  return { Authorization: `Bearer ${token}` };
}

beforeAll(async () => {
  tls = await createLoopbackCertificate();
  agent = new Agent({ ca: tls.cert });
  auth = await bearer();
});

beforeEach(async () => {
  receiver = await startPlaybookReceiver({ tls });
});

afterEach(() => receiver.close());

afterAll(() => agent.destroy());

describe("playbook receiver", () => {
  it("listens on 127.0.0.1 over HTTPS at /playbook", () => {
    expect(receiver.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/playbook$/);
  });

  it("records each POST, answers as the playbook does, and keeps the latest per incidentId", async () => {
    const first = await postJson(receiver.url, incident("inc-1"), { agent, headers: auth });
    expect(first).toMatchObject({ status: 200, body: { incidentId: "inc-1", rows: 0 } });
    const again = await postJson(receiver.url, incident("inc-1", "retitled"), {
      agent,
      headers: { ...auth, "x-ms-client-request-id": "abc" },
    });
    expect(again).toMatchObject({ status: 200, body: { incidentId: "inc-1" } });
    await postJson(receiver.url, incident("inc-2"), { agent, headers: auth });

    expect(receiver.received.map((p) => p.status)).toEqual([200, 200, 200]);
    expect(receiver.received[1].headers["x-ms-client-request-id"]).toBe("abc");
    expect(receiver.received[1].body).toEqual(incident("inc-1", "retitled"));
    expect([...receiver.incidentsById.keys()]).toEqual(["inc-1", "inc-2"]);
    expect(receiver.incidentsById.get("inc-1")).toMatchObject({ title: "retitled" });
  });

  it("fails as scripted (500 twice) and then accepts", async () => {
    receiver.respondWith(500, 2);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(
        (await postJson(receiver.url, incident("inc-9"), { agent, headers: auth })).status,
      );
    }
    expect(statuses).toEqual([500, 500, 200]);
    expect(receiver.received).toHaveLength(3);
    // Failed deliveries leave no incident behind; the accepted one creates it once.
    expect(receiver.incidentsById.size).toBe(1);
    expect(
      (await postJson(receiver.url, incident("inc-9"), { agent, headers: auth })).body,
    ).toMatchObject({
      incidentId: "inc-9",
    });
  });

  it("sends scripted headers such as Retry-After", async () => {
    receiver.respondWith(429, 1, { "Retry-After": "3" });
    const reply = await postJson(receiver.url, incident("inc-3"), { agent, headers: auth });
    expect(reply.status).toBe(429);
    expect(reply.headers["retry-after"]).toBe("3");
  });

  it("rejects a body that is not JSON, or JSON without an incidentId, with 400", async () => {
    const notJson = await send(receiver.url, {
      body: "{not json",
      headers: { ...auth, "Content-Type": "application/json" },
      agent,
    });
    const plain = await send(receiver.url, {
      body: JSON.stringify(incident("inc-4")),
      headers: { ...auth, "Content-Type": "text/plain" },
      agent,
    });
    const noId = await postJson(receiver.url, { title: "no id" }, { agent, headers: auth });
    expect([notJson.status, plain.status, noId.status]).toEqual([400, 400, 400]);
    expect(receiver.received.map((p) => p.status)).toEqual([400, 400, 400]);
    expect(receiver.incidentsById.size).toBe(0);
  });

  it("answers 404 off /playbook and 405 for other methods", async () => {
    const elsewhere = await postJson(receiver.url.replace("/playbook", "/other"), incident("x"), {
      agent,
    });
    const get = await send(receiver.url, { method: "GET", agent });
    expect(elsewhere.status).toBe(404);
    expect(get.status).toBe(405);
    expect(receiver.received).toHaveLength(0);
  });

  it("applies a schema check like a trigger with validation on", async () => {
    const strict = await startPlaybookReceiver({
      validate: (body) => {
        if (!(body as { title?: unknown }).title) throw new Error("title is required");
      },
    });
    try {
      expect(strict.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/playbook$/);
      const bad = await postJson(strict.url, { incidentId: "inc-5" }, { headers: auth });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain("title is required");
      expect((await postJson(strict.url, incident("inc-5"), { headers: auth })).status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  describe("lets in only the function's identity, as the trigger's authorization policy does", () => {
    const other = (claims: Partial<typeof LOCAL_STANDIN_IDENTITY>) =>
      new LocalStandinCredential({ ...LOCAL_STANDIN_IDENTITY, ...claims });

    it("refuses a call without any authorization with 401 DirectApiAuthorizationRequired", async () => {
      const reply = await postJson(receiver.url, incident("inc-a"), { agent });
      expect(reply.status).toBe(401);
      expect(reply.body).toMatchObject({ error: { code: "DirectApiAuthorizationRequired" } });
      expect(receiver.incidentsById.size).toBe(0);
    });

    it("skips a SAS-only call (trigger condition false): 202, no run, no playbook answer", async () => {
      const reply = await postJson(
        `${receiver.url}?api-version=2016-10-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abc`,
        incident("inc-b"),
        { agent },
      );
      expect(reply.status).toBe(202);
      expect(reply.body).toBe("");
      expect(receiver.incidentsById.size).toBe(0);
    });

    it("refuses a SAS signature together with a token with 400", async () => {
      const reply = await postJson(`${receiver.url}?sig=abc`, incident("inc-c"), {
        agent,
        headers: auth,
      });
      expect(reply.status).toBe(400);
      expect(reply.body).toMatchObject({
        error: { code: "DirectApiRequestHasMoreThanOneAuthorization" },
      });
    });

    it.each([
      ["another identity", other({ clientId: "11111111-1111-4111-8111-111111111111" })],
      ["another tenant", other({ tenantId: "22222222-2222-4222-8222-222222222222" })],
    ])("refuses a token of %s with 401 MisMatchingOAuthClaims", async (_, credential) => {
      const reply = await postJson(receiver.url, incident("inc-d"), {
        agent,
        headers: await bearer(credential),
      });
      expect(reply.status).toBe(401);
      expect(reply.body).toMatchObject({ error: { code: "MisMatchingOAuthClaims" } });
      expect(receiver.incidentsById.size).toBe(0);
    });

    it("refuses a token for another audience, and one that is not a JWT", async () => {
      const { token } = await new LocalStandinCredential().getToken(
        "https://monitor.azure.com/.default",
      );
      for (const header of [`Bearer ${token}`, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"]) {
        const reply = await postJson(receiver.url, incident("inc-e"), {
          agent,
          headers: { Authorization: header },
        });
        expect(reply.status).toBe(401);
      }
      expect(receiver.incidentsById.size).toBe(0);
    });

    it("accepts the function's token for the policy's audience", async () => {
      const reply = await postJson(receiver.url, incident("inc-f"), { agent, headers: auth });
      expect(reply.status).toBe(200);
      expect(receiver.incidentsById.has("inc-f")).toBe(true);
    });
  });
});
