import { createHash } from "node:crypto";
import { incidentIdFor } from "../../functions/incidents/incidentId";

const DETECTION = "6f0c1d1e-3b7a-4f55-9a8e-5d1c0b8a9e21";

describe("incidentIdFor", () => {
  it("is a version 5 UUID", () => {
    expect(incidentIdFor(DETECTION, ["a"])).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("is the same for the same events in any order, and differs for other events", () => {
    expect(incidentIdFor(DETECTION, ["a", "b"])).toBe(incidentIdFor(DETECTION, ["b", "a"]));
    expect(incidentIdFor(DETECTION, ["a", "b"])).not.toBe(incidentIdFor(DETECTION, ["a"]));
    expect(incidentIdFor(DETECTION, ["a"])).not.toBe(
      incidentIdFor("00000000-0000-0000-0000-000000000000", ["a"]),
    );
  });

  it("matches the RFC 9562 construction (SHA-1 of namespace bytes + name)", () => {
    // RFC 9562 appendix A.4 test vector: DNS namespace, name "www.example.com".
    expect(incidentIdFor("6ba7b810-9dad-11d1-80b4-00c04fd430c8", ["www.example.com"])).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
    expect(createHash("sha1")).toBeDefined();
  });
});
