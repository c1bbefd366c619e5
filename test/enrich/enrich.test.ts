import { loadDetectionRule } from "../../functions/detection/rule";
import { enrichHit, eventKey, matchedBy, UnexplainedHitError } from "../../functions/enrich/enrich";
import { KNOWN_SHA1, makeEvent } from "../support/events";

const rule = loadDetectionRule();
const noBenign = () => [];

describe("matchedBy", () => {
  it("tells a name match, a hash match and both apart, case-insensitively", () => {
    expect(matchedBy(makeEvent({ FileName: "NBTSCAN.EXE" }), rule)).toBe("name");
    expect(
      matchedBy(makeEvent({ FileName: "svc32.exe", SHA1: KNOWN_SHA1.toUpperCase() }), rule),
    ).toBe("hash");
    expect(matchedBy(makeEvent({ SHA1: rule.knownHashes.sha1[1] }), rule)).toBe("name+hash");
    expect(matchedBy(makeEvent({ FileName: "calc.exe" }), rule)).toBeUndefined();
  });
});

describe("enrichHit", () => {
  it("flags a known hash under another file name as a renamed binary", () => {
    const hit = enrichHit(makeEvent({ FileName: "svc32.exe", SHA1: KNOWN_SHA1 }), rule, noBenign);
    expect(hit.matchedBy).toBe("hash");
    expect(hit.renamedBinary).toBe(true);
  });

  it("keeps the benign annotations the annotator returns", () => {
    const benign = [{ scenario: "s", title: "t", matchedFields: ["ProcessCommandLine" as const] }];
    expect(enrichHit(makeEvent(), rule, () => benign).benign).toBe(benign);
  });

  it("refuses a row that neither rule explains: the KQL and the metadata disagree", () => {
    expect(() => enrichHit(makeEvent({ FileName: "calc.exe" }), rule, noBenign)).toThrow(
      UnexplainedHitError,
    );
  });
});

describe("eventKey", () => {
  it("is table + device + timestamp + report id, the documented unique identity", () => {
    const e = makeEvent({ DeviceName: "WS-1", ReportId: "42" });
    expect(eventKey(e)).toBe(`DeviceProcessEvents|ws-1|${e.Timestamp}|42`);
    expect(eventKey({ ...e, SourceTable: "DeviceFileEvents" })).not.toBe(eventKey(e));
  });
});
