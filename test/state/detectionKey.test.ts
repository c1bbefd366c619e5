import { detectionKey, partitionPrefix } from "../../functions/state/detectionKey";
import { legacyLayout, scopedLayout } from "../../functions/state/layout";

const RULE = "6F0C1D1E-3B7A-4F55-9A8E-5D1C0B8A9E21";
const WORKSPACE = "11111111-2222-4333-8444-555555555555";

describe("detectionKey", () => {
  it("keys every partition by rule and workspace, GUIDs in lower case", () => {
    const key = detectionKey(RULE, WORKSPACE);
    expect(partitionPrefix(key)).toBe(`${RULE.toLowerCase()}_${WORKSPACE}_`);
    const layout = scopedLayout(key);
    for (const partition of [
      layout.lease.partition,
      layout.watermarkPartition,
      layout.ledgerPrefix,
      layout.outbox,
      layout.quarantine,
    ]) {
      expect(partition.startsWith(partitionPrefix(key))).toBe(true);
      // Table Storage keys: at most 1 KiB, none of / \ # ? or control characters.
      expect(partition.length).toBeLessThan(1024 / 2);
      // eslint-disable-next-line no-control-regex -- the forbidden set includes control characters
      expect(partition).not.toMatch(/[\\/#?\u0000-\u001f\u007f-\u009f]/);
    }
  });

  it("refuses a part that could break a key or run into another detection's prefix, naming it", () => {
    expect(() => detectionKey("rule/1", WORKSPACE)).toThrow(/rule id 'rule\/1'/);
    expect(() => detectionKey(RULE, "ws_1")).toThrow(/workspace id 'ws_1'/);
    expect(() => detectionKey("", WORKSPACE)).toThrow(/rule id ''/);
    expect(() => detectionKey("a".repeat(129), WORKSPACE)).toThrow(/rule id/);
  });

  it("the legacy layout is the unscoped one nbtscan wrote before", () => {
    const legacy = legacyLayout("r");
    expect(legacy).toMatchObject({
      lease: { partition: "lease", row: "r" },
      watermarkPartition: "watermark",
      ledgerPrefix: "ledger-",
      outbox: "outbox",
      quarantine: "quarantine",
    });
    expect(legacy.watermarkRow("routine")).toBe("r");
    expect(legacy.watermarkRow("catchup")).toBe("r-catchup");
  });
});
