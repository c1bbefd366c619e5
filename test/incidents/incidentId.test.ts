import { incidentIdFor, incidentNamespace } from "../../functions/incidents/incidentId";

const NBTSCAN = "6f0c1d1e-3b7a-4f55-9a8e-5d1c0b8a9e21";
const WORKSPACE = "11111111-2222-4333-8444-555555555555";
const DETECTION = { ruleId: NBTSCAN, workspaceId: WORKSPACE };

describe("incidentIdFor", () => {
  it("is a version 5 UUID", () => {
    expect(incidentIdFor(DETECTION, ["a"])).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("is the same for the same events in any order, and differs for other events", () => {
    expect(incidentIdFor(DETECTION, ["a", "b"])).toBe(incidentIdFor(DETECTION, ["b", "a"]));
    expect(incidentIdFor(DETECTION, ["a", "b"])).not.toBe(incidentIdFor(DETECTION, ["a"]));
  });

  it("differs between detections: another rule, or the same rule in another workspace", () => {
    const id = incidentIdFor(DETECTION, ["a"]);
    const otherRule = { ...DETECTION, ruleId: "00000000-0000-0000-0000-000000000000" };
    const otherWorkspace = { ...DETECTION, workspaceId: "99999999-2222-4333-8444-555555555555" };
    expect(incidentIdFor(otherRule, ["a"])).not.toBe(id);
    expect(incidentIdFor(otherWorkspace, ["a"])).not.toBe(id);
    // A GUID spelled in upper case is the same workspace.
    expect(incidentIdFor({ ...DETECTION, workspaceId: WORKSPACE.toUpperCase() }, ["a"])).toBe(id);
  });

  it("matches the RFC 9562 construction (SHA-1 of namespace bytes + name)", () => {
    // RFC 9562 appendix A.4 test vector: DNS namespace, name "www.example.com".
    const dns = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
    expect(incidentNamespace({ ruleId: dns, workspaceId: "www.example.com" })).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
  });
});
