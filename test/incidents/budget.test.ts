import { enrichHit } from "../../functions/enrich/enrich";
import {
  capEvent,
  jsonBytes,
  MAX_FIELD_CHARS,
  MAX_RECORD_BYTES,
  TRUNCATED_COLUMNS,
  truncateText,
} from "../../functions/incidents/budget";
import { buildIncidentParts } from "../../functions/incidents/buildIncident";
import { groupHits } from "../../functions/incidents/group";
import { toPayload, validateIncidentPayload } from "../../functions/incidents/payload";
import type { DetectionEvent, EventColumn } from "../../functions/model";
import { MAX_IDENTIFIER_CHARS } from "../../functions/query/rows";
import { annotateBenign } from "../../functions/triage/scenarios";
import { makeEvent } from "../support/events";
import { defaultIncidentContext } from "../support/incidents";

const ctx = defaultIncidentContext;
const { rule, scenarios } = ctx;

/** The worst row an attacker can make: every free-text column at the Windows maximum, with
 * characters JSON must escape, and every identifier at its longest. */
function worstEvent(i: number): DetectionEvent {
  const text = `nbtscan "inventory" \\\\ scan ${i} `.padEnd(32_767, '"\\\u0001');
  const free = Object.fromEntries(TRUNCATED_COLUMNS.map((c) => [c, text]));
  return makeEvent({
    ...free,
    FileName: "nbtscan.exe",
    DeviceName: "d".repeat(MAX_IDENTIFIER_CHARS),
    ReportId: String(i).padStart(MAX_IDENTIFIER_CHARS, "9"),
    SHA256: "f".repeat(MAX_IDENTIFIER_CHARS),
  });
}

describe("truncateText", () => {
  it("cuts to the limit with an ellipsis, never splitting a surrogate pair", () => {
    expect(truncateText("abcdef", 4)).toBe("abc…");
    expect(truncateText("abcd", 4)).toBe("abcd");
    expect(truncateText("ab😀cd", 4)).toBe("ab…");
  });

  it("counts the value as JSON stores it: escapes take their escaped length", () => {
    expect(truncateText('a"b"c', 4)).toBe('a"…');
    expect(truncateText("\u0001\u0001", 7)).toBe("\u0001…");
  });
});

describe("capEvent", () => {
  it("cuts attacker-controlled columns, records their length, keeps identifiers and hashes whole", () => {
    const event = makeEvent({ ProcessCommandLine: "x".repeat(32_000), SHA1: "a".repeat(40) });
    const { event: capped, truncated } = capEvent(event);
    expect(truncated).toEqual({ ProcessCommandLine: 32_000 });
    expect(capped.ProcessCommandLine).toHaveLength(MAX_FIELD_CHARS);
    expect(capped.ProcessCommandLine.endsWith("…")).toBe(true);
    const untouched = (Object.keys(event) as EventColumn[]).filter(
      (c) => c !== "ProcessCommandLine",
    );
    for (const column of untouched) expect(capped[column]).toBe(event[column]);
  });
});

describe("incidents within the storage budget", () => {
  const worst = Array.from({ length: 20 }, (_, i) =>
    enrichHit(worstEvent(i), rule, (e) => annotateBenign(e, scenarios)),
  );
  const partsOf = (hits: typeof worst) =>
    groupHits(hits, "device").flatMap((group) => buildIncidentParts(group, ctx));

  it("splits an incident whose worst-case evidence cannot fit, every hit in exactly one part", () => {
    const parts = partsOf(worst);
    expect(parts.length).toBeGreaterThan(1);
    const keys = parts.flatMap((p) => p.events.map((e) => e.eventKey));
    expect(keys.sort()).toEqual(worst.map((h) => h.key).sort());
    for (const part of parts) {
      expect(jsonBytes(part)).toBeLessThanOrEqual(MAX_RECORD_BYTES);
      const payload = validateIncidentPayload(toPayload(part));
      expect(payload.events.every((e) => Object.keys(e.truncated ?? {}).length > 0)).toBe(true);
      const longest = Math.max(...payload.alertRows.map((r) => r.ProcessCommandLine.length));
      expect(longest).toBeLessThanOrEqual(MAX_FIELD_CHARS);
    }
  });

  it("splits the same hits the same way every time, in any order", () => {
    const ids = (hits: typeof worst) => partsOf(hits).map((p) => p.incidentId);
    expect(ids([...worst].reverse())).toEqual(ids(worst));
  });

  it("leaves an ordinary group of 50 hits in one incident", () => {
    const plain = Array.from({ length: 50 }, () =>
      enrichHit(makeEvent(), rule, (e) => annotateBenign(e, scenarios)),
    );
    expect(partsOf(plain)).toHaveLength(1);
  });
});
