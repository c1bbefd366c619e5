import { enrichHit } from "../../functions/enrich/enrich";
import { buildIncident } from "../../functions/incidents/buildIncident";
import { incidentIdFor } from "../../functions/incidents/incidentId";
import { toPayload, validateIncidentPayload } from "../../functions/incidents/payload";
import { annotateBenign } from "../../functions/triage/scenarios";
import { KNOWN_SHA1, makeEvent } from "../support/events";
import { defaultIncidentContext } from "../support/incidents";

const ctx = defaultIncidentContext;
const { rule, scenarios } = ctx;
const hit = (overrides: Parameters<typeof makeEvent>[0]) =>
  enrichHit(makeEvent(overrides), rule, (e) => annotateBenign(e, scenarios));

describe("buildIncident", () => {
  const hits = [
    hit({ Timestamp: "2026-11-25T08:05:00.000Z", FileName: "svc32.exe", SHA1: KNOWN_SHA1 }),
    hit({
      Timestamp: "2026-11-25T08:01:00.000Z",
      ProcessCommandLine: "nbtscan.exe -f inventory.txt",
    }),
  ];
  const incident = buildIncident(hits, ctx);

  it("builds an incident whose payload fits the contract", () => {
    const payload = toPayload(incident);
    expect(validateIncidentPayload(payload)).toBe(payload);
  });

  it("takes its id from the events, and its time span from their timestamps", () => {
    expect(incident.incidentId).toBe(
      incidentIdFor(
        { ruleId: rule.id, workspaceId: ctx.workspaceId },
        hits.map((h) => h.key),
      ),
    );
    expect(incident.firstActivityTimeUtc).toBe("2026-11-25T08:01:00.000Z");
    expect(incident.lastActivityTimeUtc).toBe("2026-11-25T08:05:00.000Z");
  });

  it("carries the ATT&CK mapping, campaign and references from the rule", () => {
    expect(incident.tactics).toEqual(["Discovery"]);
    expect(incident.techniques).toEqual(["T1046", "T1018", "T1016", "T1033", "T1040"]);
    expect(incident.attack?.campaign.group.id).toBe("G0093");
    expect(incident.references).toEqual(rule.references);
  });

  it("tells the responder how to verify a benign scenario that fits", () => {
    const inventory = scenarios.find((s) => s.name === "scheduled-network-inventory");
    expect(incident.events[1].benignScenarios.map((b) => b.scenario)).toContain(inventory?.name);
    // The scenario's advice, not only its title, reaches the description.
    expect(incident.description).toContain("schtasks /query /v");
  });
});
