import { groupHits, MAX_EVENTS_PER_INCIDENT } from "../../functions/incidents/group";
import type { EnrichedHit } from "../../functions/model";
import { makeEvent } from "../support/events";

function hit(device: string, timestamp: string, key: string): EnrichedHit {
  return {
    key,
    event: makeEvent({ DeviceId: device, DeviceName: device, Timestamp: timestamp }),
    matchedBy: "name",
    renamedBinary: false,
    benign: [],
  };
}

const hits = [
  hit("b", "2026-11-25T08:02:00.000Z", "k3"),
  hit("a", "2026-11-25T08:01:00.000Z", "k2"),
  hit("a", "2026-11-25T08:00:00.000Z", "k1"),
];

describe("groupHits", () => {
  it("device: one incident per device, events oldest first", () => {
    expect(groupHits(hits, "device").map((g) => g.map((h) => h.key))).toEqual([
      ["k1", "k2"],
      ["k3"],
    ]);
  });

  it("run: one incident for the run", () => {
    expect(groupHits(hits, "run").map((g) => g.map((h) => h.key))).toEqual([["k1", "k2", "k3"]]);
  });

  it("event: one incident per event", () => {
    expect(groupHits(hits, "event").map((g) => g.map((h) => h.key))).toEqual([
      ["k1"],
      ["k2"],
      ["k3"],
    ]);
  });

  it("splits a group larger than the per-incident cap", () => {
    const many = Array.from({ length: MAX_EVENTS_PER_INCIDENT + 1 }, (_, i) =>
      hit(
        "a",
        `2026-11-25T08:00:${String(i % 60).padStart(2, "0")}.${String(i).padStart(3, "0")}Z`,
        `k${i}`,
      ),
    );
    expect(groupHits(many, "device").map((g) => g.length)).toEqual([MAX_EVENTS_PER_INCIDENT, 1]);
  });
});
