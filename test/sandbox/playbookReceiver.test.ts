import { Agent } from "node:https";
import { startPlaybookReceiver, type PlaybookReceiver } from "../../sandbox/playbookReceiver";
import { createLoopbackCertificate, type LoopbackCertificate } from "../../sandbox/tls";
import { postJson, send } from "./fixtures";

const incident = (id: string, title = "nbtscan.exe on ws-fin-012") => ({ incidentId: id, title });

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

describe("playbook receiver", () => {
  it("listens on 127.0.0.1 over HTTPS at /playbook", () => {
    expect(receiver.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/playbook$/);
  });

  it("records each POST and answers created, then updated for the same incidentId", async () => {
    const first = await postJson(receiver.url, incident("inc-1"), { agent });
    expect(first).toMatchObject({ status: 200, body: { status: "created", incidentId: "inc-1" } });
    const again = await postJson(receiver.url, incident("inc-1", "retitled"), {
      agent,
      headers: { "x-ms-client-request-id": "abc" },
    });
    expect(again).toMatchObject({ status: 200, body: { status: "updated", incidentId: "inc-1" } });
    await postJson(receiver.url, incident("inc-2"), { agent });

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
      statuses.push((await postJson(receiver.url, incident("inc-9"), { agent })).status);
    }
    expect(statuses).toEqual([500, 500, 200]);
    expect(receiver.received).toHaveLength(3);
    // Failed deliveries leave no incident behind; the accepted one creates it once.
    expect(receiver.incidentsById.size).toBe(1);
    expect((await postJson(receiver.url, incident("inc-9"), { agent })).body).toMatchObject({
      status: "updated",
    });
  });

  it("sends scripted headers such as Retry-After", async () => {
    receiver.respondWith(429, 1, { "Retry-After": "3" });
    const reply = await postJson(receiver.url, incident("inc-3"), { agent });
    expect(reply.status).toBe(429);
    expect(reply.headers["retry-after"]).toBe("3");
  });

  it("rejects a body that is not JSON, or JSON without an incidentId, with 400", async () => {
    const notJson = await send(receiver.url, {
      body: "{not json",
      headers: { "Content-Type": "application/json" },
      agent,
    });
    const plain = await send(receiver.url, {
      body: JSON.stringify(incident("inc-4")),
      headers: { "Content-Type": "text/plain" },
      agent,
    });
    const noId = await postJson(receiver.url, { title: "no id" }, { agent });
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
      const bad = await postJson(strict.url, { incidentId: "inc-5" });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain("title is required");
      expect((await postJson(strict.url, incident("inc-5"))).status).toBe(200);
    } finally {
      await strict.close();
    }
  });
});
