import {
  encodeMessage,
  isDetectionMessage,
  parseMessage,
  shownMessage,
  type DetectionMessage,
} from "../../functions/fanout/message";

const MESSAGE: DetectionMessage = {
  ruleId: "6f0c1d1e-3b7a-4f55-9a8e-5d1c0b8a9e21",
  enqueuedAt: "2026-11-25T12:00:00.000Z",
  tickId: "0b5e6a52-7f57-4c8e-9d53-1d8f3f1f2a10",
};

describe("detection queue message", () => {
  it("is JSON in base64 on the queue, and reads back from each form the worker may get", () => {
    const text = encodeMessage(MESSAGE);
    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const json = Buffer.from(text, "base64").toString("utf8");
    expect(JSON.parse(json)).toEqual(MESSAGE);
    // The Node.js worker hands a JSON message over parsed; a string or bytes are read too.
    expect(parseMessage(JSON.parse(json))).toEqual(MESSAGE);
    expect(parseMessage(json)).toEqual(MESSAGE);
    expect(parseMessage(Buffer.from(json))).toEqual(MESSAGE);
  });

  it.each<[string, unknown, RegExp]>([
    ["text", "run nbtscan please", /is not JSON/],
    ["a number", 42, /is not a JSON object/],
    ["an array", [MESSAGE], /is not a JSON object/],
    ["null", null, /is not a JSON object/],
    ["no rule id", { ...MESSAGE, ruleId: undefined }, /has no ruleId string/],
    ["an empty rule id", { ...MESSAGE, ruleId: "" }, /has no ruleId string/],
    ["a numeric tick id", { ...MESSAGE, tickId: 7 }, /has no tickId string/],
    [
      "a rule id with spaces",
      { ...MESSAGE, ruleId: "a b" },
      /ruleId that is not a short printable id/,
    ],
    ["a very long rule id", { ...MESSAGE, ruleId: "x".repeat(129) }, /ruleId that is not/],
    ["a local time", { ...MESSAGE, enqueuedAt: "2026-11-25T12:00:00" }, /enqueuedAt that is not/],
    ["an impossible date", { ...MESSAGE, enqueuedAt: "2026-13-45T12:00:00Z" }, /enqueuedAt/],
    ["an extra field", { ...MESSAGE, query: "DeviceEvents" }, /unknown field\(s\) query/],
  ])("refuses %s with a reason", (_, entry, reason) => {
    const parsed = parseMessage(entry);
    expect(isDetectionMessage(parsed)).toBe(false);
    expect(parsed).toEqual({ problem: expect.stringMatching(reason) as unknown });
  });

  it("shows a bad message on one line, escaped and cut short", () => {
    expect(shownMessage("a\nb")).toBe('"a\\nb"');
    expect(shownMessage({ a: 1 })).toBe('"{\\"a\\":1}"');
    const long = shownMessage("x".repeat(1000));
    expect(long.length).toBeLessThanOrEqual(201);
    expect(long.endsWith("…")).toBe(true);
  });
});
