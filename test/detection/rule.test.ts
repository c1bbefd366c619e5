import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadDetectionRule, metaFileOf } from "../../functions/detection/rule";

const DIR = path.join(__dirname, "../../functions/detections");

describe("loadDetectionRule", () => {
  it("joins the Sentinel rule file and its metadata file", () => {
    const rule = loadDetectionRule();
    expect(rule.id).toBe(rule.loaded.id);
    expect(rule.query).toBe(rule.loaded.originalQuery);
    expect(rule.query).toMatch(/^\/\/ nbtscan\.exe \(MITRE ATT&CK S0590\)/);
    // The incident names the five ATT&CK techniques of NBTscan; the Sentinel rule lists those its
    // tactic allows (nbtscan.meta.yaml says why T1040 is not among them).
    expect(rule.relevantTechniques.map((t) => t.id)).toEqual([
      "T1046",
      "T1018",
      "T1016",
      "T1033",
      "T1040",
    ]);
    expect(rule.loaded.relevantTechniques).toEqual(["T1046", "T1018", "T1016", "T1033"]);
    expect(rule.tactics.map((t) => [t.id, t.name])).toEqual([["TA0007", "Discovery"]]);
  });

  it("finds the metadata beside the rule", () => {
    expect(metaFileOf("/x/nbtscan.yaml")).toBe("/x/nbtscan.meta.yaml");
  });

  describe("with edited copies", () => {
    let dir: string;
    const ruleFile = () => path.join(dir, "nbtscan.yaml");
    const metaFile = () => path.join(dir, "nbtscan.meta.yaml");
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), "rule-"));
      copyFileSync(path.join(DIR, "nbtscan.yaml"), ruleFile());
      copyFileSync(path.join(DIR, "nbtscan.meta.yaml"), metaFile());
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const edit = (file: string, from: string, to: string) => {
      const text = readFileSync(file, "utf8");
      expect(text).toContain(from);
      writeFileSync(file, text.replace(from, to));
    };

    it("names a rule file that is not a Sentinel analytic rule", () => {
      edit(ruleFile(), "queryFrequency: 5m", "queryFrequency: 5x");
      expect(() => loadDetectionRule(ruleFile())).toThrow(
        `analytic rule (${ruleFile()}) is invalid:\n  - /queryFrequency must match pattern`,
      );
    });

    it("names metadata of another rule", () => {
      edit(metaFile(), "ruleId: 6f0c1d1e", "ruleId: 7f0c1d1e");
      expect(() => loadDetectionRule(ruleFile())).toThrow(
        "/ruleId '7f0c1d1e-3b7a-4f55-9a8e-5d1c0b8a9e21' is not the rule's id",
      );
    });

    it("names metadata whose tactics or techniques are not the rule's", () => {
      edit(ruleFile(), "  - T1033\n", "  - T1033\n  - T1049\n");
      expect(() => loadDetectionRule(ruleFile())).toThrow(
        "/attack/techniques lacks the rule's technique T1049",
      );
    });

    it("names a missing metadata field", () => {
      edit(metaFile(), "detectedFileName: nbtscan.exe\n", "");
      expect(() => loadDetectionRule(ruleFile())).toThrow(
        "(document) must have required property 'detectedFileName'",
      );
    });
  });
});
