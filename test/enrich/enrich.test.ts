import { loadDetectionRule } from "../../functions/detection/rule";
import {
  enrichHit,
  eventKey,
  eventKeyBasis,
  explainedEvents,
  matchedBy,
  UnexplainedHitError,
} from "../../functions/enrich/enrich";
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
    expect(eventKeyBasis(e)).toBe("ReportId");
  });

  it("without a ReportId, hashes the row's content so two different hits keep two keys", () => {
    const one = makeEvent({ ReportId: "", Timestamp: "2026-11-25T08:00:00.000Z" });
    const two = { ...one, ProcessCommandLine: "nbtscan.exe -r 10.9.0.0/16" };
    expect(eventKeyBasis(one)).toBe("contentHash");
    expect(eventKey(one)).toMatch(
      /^DeviceProcessEvents\|ws-fin-07\.contoso\.local\|.*\|sha256:[0-9a-f]{64}$/,
    );
    expect(eventKey(two)).not.toBe(eventKey(one));
    // The same event ingested again is the same event.
    expect(eventKey({ ...one, IngestionTime: "2026-11-25T09:00:00.000Z" })).toBe(eventKey(one));
  });
});

describe("explainedEvents", () => {
  it("sets aside, with the reason, a row that neither rule explains", () => {
    const odd = makeEvent({ FileName: "calc.exe" });
    const good = makeEvent();
    const { events, quarantined } = explainedEvents([odd, good], rule);
    expect(events).toEqual([good]);
    expect(quarantined.map((q) => q.row)).toEqual([odd]);
    expect(quarantined[0].reason).toMatch(/matching neither the file name nor a known hash/);
  });
});
