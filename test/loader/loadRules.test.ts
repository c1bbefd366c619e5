import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import type { ClassifiedRule } from "../../functions/loader/loadedRule";
import { loadRuleFile, loadRules, ruleFiles, RULES_DIR } from "../../functions/loader/loadRules";
import { loadTableSchemas, tableSchemaDir } from "../../sandbox/kusto";

const tables = loadTableSchemas(tableSchemaDir());
const FIXTURES = path.join(__dirname, "fixtures");

// Each fixture is written in the shape the Azure-Sentinel repository publishes its analytic
// rules in (Solutions/*/Analytic Rules/*.yaml); the class each one must get, and for refused
// ones the heart of the reason.
const EXPECTED: Record<string, [ClassifiedRule["ruleClass"], string?]> = {
  "archive-tools-union.yaml": ["runs as is"],
  "certutil-download.yaml": ["runs as is"],
  "rundll32-outbound-nrt.yaml": ["runs as is"],
  "procdump-lsass.yaml": ["adapted"],
  "psexec-remote-file.yaml": ["adapted"],
  "wevtutil-clear-logs.yaml": ["adapted"],
  "connector-not-declared.yaml": [
    "refused",
    "requiredDataConnectors do not cover DeviceNetworkEvents",
  ],
  "entity-column-missing.yaml": ["refused", "names AccountUpn, which the query does not produce"],
  "hash-list-too-long.yaml": ["refused", "/query must NOT have more than 10000 characters"],
  "logon-series-anomaly.yaml": ["refused", "make-series"],
  "lookback-30-days.yaml": ["refused", "/queryPeriod '30d' must be between 5m and 14d"],
  "rare-service-parent.yaml": ["refused", "a join or baseline"],
  "taskkill-many-processes.yaml": ["refused", "summarize"],
  "threshold-five-results.yaml": ["refused", "'gt 5'"],
  "unsupported-os-inventory.yaml": ["refused", "DeviceInfo, an inventory table"],
};

function tempRulesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "rules-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe("loadRules over Azure-Sentinel-shaped fixtures", () => {
  const rules = loadRules(ruleFiles(FIXTURES), tables);

  it("classifies every fixture file, and each as expected", () => {
    expect(rules.map((r) => path.basename(r.file)).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const rule of rules) {
      const [ruleClass, reason] = EXPECTED[path.basename(rule.file)];
      expect({ file: path.basename(rule.file), ruleClass: rule.ruleClass }).toEqual({
        file: path.basename(rule.file),
        ruleClass,
      });
      if (rule.ruleClass === "refused") {
        expect(rule.reason).toContain(reason);
        expect(rule.reason).not.toContain("\n");
      }
    }
  });

  it("hands the engine each runnable rule's metadata from its YAML and the rewritten query", () => {
    for (const rule of rules) {
      if (rule.ruleClass === "refused") continue;
      const yaml = parseYaml(readFileSync(rule.file, "utf8")) as Record<string, unknown>;
      expect(rule).toMatchObject({
        id: yaml.id,
        name: yaml.name,
        severity: yaml.severity,
        tactics: yaml.tactics,
        relevantTechniques: yaml.relevantTechniques,
        originalQuery: yaml.query,
        entityMappings: yaml.entityMappings,
        customDetails: yaml.customDetails ?? {},
      });
      expect(rule.query.trimEnd().endsWith("| top MaxRows by IngestionTime asc")).toBe(true);
      expect(rule.changes.length > 0).toBe(rule.ruleClass === "adapted");
    }
  });

  it("reads queryFrequency and queryPeriod in both the repository's and ARM's spelling", () => {
    const procdump = rules.find((r) => path.basename(r.file) === "procdump-lsass.yaml");
    expect(procdump).toMatchObject({ queryFrequencyMs: 3_600_000, queryPeriodMs: 86_400_000 });
    const text = readFileSync(path.join(FIXTURES, "procdump-lsass.yaml"), "utf8")
      .replace("queryFrequency: 1h", "queryFrequency: PT1H")
      .replace("queryPeriod: 1d", "queryPeriod: P1D");
    const dir = tempRulesDir({ "arm.yaml": text });
    expect(loadRuleFile(path.join(dir, "arm.yaml"), tables)).toMatchObject({
      queryFrequencyMs: 3_600_000,
      queryPeriodMs: 86_400_000,
    });
  });

  it("refuses, in one line each, a file that is not YAML, not a rule, or repeats an id", () => {
    const certutil = readFileSync(path.join(FIXTURES, "certutil-download.yaml"), "utf8");
    const dir = tempRulesDir({
      "a-first.yaml": certutil,
      "b-same-id.yaml": certutil,
      "c-broken.yaml": "id: [unclosed\n",
      "d-no-query.yaml": certutil
        .replace(/^id: .*$/m, "id: 5f0e3c1a-2b4d-4e6f-8a9b-0c1d2e3f4a5b")
        .replace(/^query: \|\n( {2}.*\n)+/m, ""),
    });
    const [first, again, broken, noQuery] = loadRules(ruleFiles(dir), tables);
    expect(first.ruleClass).toBe("runs as is");
    expect(again).toMatchObject({
      ruleClass: "refused",
      reason: `its id is also the id of ${first.file}`,
    });
    expect(broken).toMatchObject({ ruleClass: "refused" });
    expect(broken.ruleClass === "refused" && broken.reason).toMatch(/^not readable YAML: /);
    expect(noQuery).toMatchObject({
      ruleClass: "refused",
      name: "Certutil used to download a file",
    });
    expect(noQuery.ruleClass === "refused" && noQuery.reason).toMatch(
      /^not a Sentinel analytic rule: .*query/,
    );
    for (const rule of [again, broken, noQuery]) {
      expect(rule.ruleClass === "refused" && rule.reason).not.toContain("\n");
    }
  });

  it("attaches the project-only side file beside the rule, keyed by the rule's id; it is no rule", () => {
    const certutil = readFileSync(path.join(FIXTURES, "certutil-download.yaml"), "utf8");
    const id = (parseYaml(certutil) as { id: string }).id;
    const meta = (ruleId: string) =>
      `ruleId: ${ruleId}\nreferences:\n  - title: LOLBAS certutil\n    url: https://lolbas-project.github.io/\n`;
    const dir = tempRulesDir({
      "certutil.yaml": certutil,
      "certutil.meta.yaml": meta(id),
      "certutil.tests.yaml": "cases: []\n",
      "certutil.benign.yaml": "scenarios: []\n",
    });
    expect(ruleFiles(dir)).toEqual([path.join(dir, "certutil.yaml")]);
    expect(loadRules(ruleFiles(dir), tables)[0]).toMatchObject({
      ruleClass: "runs as is",
      projectData: { references: [{ title: "LOLBAS certutil" }] },
    });
    writeFileSync(
      path.join(dir, "certutil.meta.yaml"),
      meta("00000000-0000-4000-8000-000000000000"),
    );
    expect(loadRules(ruleFiles(dir), tables)[0]).toMatchObject({
      ruleClass: "refused",
      reason: expect.stringContaining("is not the rule's id") as unknown,
    });
  });

  it("lists nbtscan, the shipped default, first among the shipped rules", () => {
    const shipped = ruleFiles(RULES_DIR).map((f) => path.basename(f));
    expect(shipped[0]).toBe("nbtscan.yaml");
    expect(shipped.slice(1)).toEqual([...shipped.slice(1)].sort());
    expect(shipped.length).toBeGreaterThanOrEqual(3);
  });
});
