import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ruleFiles, RULES_DIR } from "../../functions/loader/loadRules";
import { main } from "../../scripts/detections";
import { runCheck, SOURCE_RULES_DIR } from "../../scripts/detectionsCheck";

const FIXTURES = path.resolve(__dirname, "..", "loader", "fixtures");

function capture(): {
  out: string[];
  err: string[];
  output: { out(l: string): void; err(l: string): void };
} {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (l) => out.push(l), err: (l) => err.push(l) } };
}

describe("npm run detections -- check", () => {
  it("passes the shipped rules: one line per rule, none refused, exit 0", () => {
    const { out, err, output } = capture();
    expect(main(["check"], output)).toBe(0);
    expect(err).toEqual([]);
    expect(SOURCE_RULES_DIR).toBe(RULES_DIR);
    const files = ruleFiles(RULES_DIR);
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(out).toHaveLength(files.length);
    for (const [i, file] of files.entries()) {
      expect(out[i]).toMatch(/^(runs as is|adapted {3}) {2}/);
      expect(out[i]).toContain(path.basename(file));
    }
    // The second and third detections: one over DeviceNetworkEvents as written, one adapted.
    expect(out.some((l) => l.startsWith("runs as is") && l.includes("DeviceNetworkEvents"))).toBe(
      true,
    );
    expect(out.some((l) => l.startsWith("adapted") && l.includes("ago("))).toBe(true);
  });

  it("reports refused fixtures outside the deployed folder but exits 0", () => {
    const { out, output } = capture();
    const files = ruleFiles(FIXTURES);
    expect(runCheck(files, output)).toBe(0);
    expect(out).toHaveLength(files.length);
    expect(out.filter((l) => l.startsWith("refused")).length).toBeGreaterThanOrEqual(3);
  });

  it("names the entity fields of a rule that no alert column carries, on the rule's line", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "hashes-"));
    const rule = readFileSync(path.join(FIXTURES, "certutil-download.yaml"), "utf8")
      .replace("| extend HostName =", '| extend HashAlgorithm = "SHA256", HostName =')
      .replace(
        "entityMappings:\n",
        "entityMappings:\n  - entityType: FileHash\n    fieldMappings:\n      - identifier: Algorithm\n        columnName: HashAlgorithm\n      - identifier: Value\n        columnName: SHA256\n",
      );
    writeFileSync(path.join(dir, "certutil-download.yaml"), rule);
    const { out, output } = capture();
    expect(runCheck([], output, dir)).toBe(0);
    expect(out).toEqual([
      expect.stringMatching(
        /^runs as is {2}.*certutil-download\.yaml .*; entity fields the alert table has no column for, left out: FileHash\.Algorithm, FileHash\.Value$/,
      ),
    ]);
  });

  it("exits 1 when a rule in the deployed folder is refused, naming it", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deployed-"));
    for (const name of ["certutil-download.yaml", "taskkill-many-processes.yaml"]) {
      writeFileSync(path.join(dir, name), readFileSync(path.join(FIXTURES, name)));
    }
    const { out, output } = capture();
    expect(runCheck([], output, dir)).toBe(1);
    expect(out).toEqual([
      expect.stringMatching(/^runs as is {2}.*certutil-download\.yaml/),
      expect.stringMatching(/^refused {5}.*taskkill-many-processes\.yaml .*: summarize/),
    ]);
  });

  it("exits 1 with one line for an empty rules folder, 2 for an unknown command", () => {
    const empty = capture();
    expect(runCheck([], empty.output, mkdtempSync(path.join(tmpdir(), "empty-")))).toBe(1);
    expect(empty.err).toEqual([expect.stringContaining("no rule files in")]);
    const unknown = capture();
    expect(main(["chek"], unknown.output)).toBe(2);
    expect(unknown.err[0]).toBe("detections: unknown command 'chek'");
  });
});
