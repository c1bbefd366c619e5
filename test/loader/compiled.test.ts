import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { RULES_DIR } from "../../functions/detections/folder";
import { writeCompiledDetections } from "../../functions/loader/compile";
import {
  COMPILED_FILE_NAME,
  CompiledDetectionsError,
  readCompiledDetections,
} from "../../functions/loader/compiled";

// The build writes the compiled rules beside a copy of the rules folder; the function reads only
// that file, and refuses, in one line, one that is missing or older than the rules beside it.
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "compiled-"));
  // The rule files only: not the modules, nor the compiled file the test run wrote beside them.
  cpSync(RULES_DIR, dir, {
    recursive: true,
    filter: (f) => !f.endsWith(".ts") && path.basename(f) !== COMPILED_FILE_NAME,
  });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(CompiledDetectionsError);
    return (error as Error).message;
  }
  throw new Error("no error");
}

describe("compiled detections", () => {
  it("hands the function every rule as the loader made it, nbtscan first, files in its folder", () => {
    writeCompiledDetections(RULES_DIR, dir);
    const compiled = readCompiledDetections(dir);
    expect(compiled.rules.map((r) => path.basename(r.file))).toEqual([
      "nbtscan.yaml",
      "adfind-domain-recon.yaml",
      "network-scanner-smb-sweep.yaml",
    ]);
    for (const rule of compiled.rules) expect(path.dirname(rule.file)).toBe(dir);
    const [nbtscan, adfind] = compiled.rules;
    expect(nbtscan).toMatchObject({
      ruleClass: "runs as is",
      projectData: { detectedFileName: "nbtscan.exe" },
    });
    // The rewrite is done at build time: the compiled query is already in the engine's shape.
    expect(adfind.ruleClass).toBe("adapted");
    expect(adfind.ruleClass !== "refused" && adfind.query).toContain(
      "top MaxRows by IngestionTime asc",
    );
    // The file names its sources relative to the folder: the same bytes wherever it is copied.
    expect(readFileSync(path.join(dir, COMPILED_FILE_NAME), "utf8")).not.toContain(dir);
  });

  it("is one clear line when the compiled file is missing", () => {
    const message = errorOf(() => readCompiledDetections(dir));
    expect(message).toBe(
      `no compiled detections at ${path.join(dir, COMPILED_FILE_NAME)}: run \`npm run build\` (or \`npm run package\`) to compile the rules`,
    );
  });

  it.each([
    [
      "changed",
      (d: string) =>
        writeFileSync(
          path.join(d, "nbtscan.yaml"),
          `${readFileSync(path.join(d, "nbtscan.yaml"), "utf8")}# edited\n`,
        ),
      "nbtscan.yaml changed since it was compiled",
    ],
    [
      "a meta side file changed",
      (d: string) =>
        writeFileSync(
          path.join(d, "nbtscan.meta.yaml"),
          `${readFileSync(path.join(d, "nbtscan.meta.yaml"), "utf8")}# edited\n`,
        ),
      "nbtscan.meta.yaml changed since it was compiled",
    ],
    [
      "added",
      (d: string) => cpSync(path.join(d, "adfind-domain-recon.yaml"), path.join(d, "zz-copy.yaml")),
      "zz-copy.yaml was added since it was compiled",
    ],
    [
      "removed",
      (d: string) => unlinkSync(path.join(d, "adfind-domain-recon.yaml")),
      "adfind-domain-recon.yaml was removed since it was compiled",
    ],
  ])("is one clear line when a rule file was %s after compiling", (_what, change, why) => {
    writeCompiledDetections(RULES_DIR, dir);
    change(dir);
    const message = errorOf(() => readCompiledDetections(dir));
    expect(message).toBe(
      `${path.join(dir, COMPILED_FILE_NAME)} is stale: ${why}; run \`npm run build\` (or \`npm run package\`) to compile the rules`,
    );
    expect(message).not.toContain("\n");
  });

  it("is one clear line for a file that is not JSON or in another format", () => {
    writeFileSync(path.join(dir, COMPILED_FILE_NAME), "{");
    expect(errorOf(() => readCompiledDetections(dir))).toMatch(
      /is not readable JSON \(.*\): run `npm run build`/,
    );
    writeFileSync(path.join(dir, COMPILED_FILE_NAME), JSON.stringify({ format: 0, rules: [] }));
    expect(errorOf(() => readCompiledDetections(dir))).toMatch(/is not in compiled format 2: run/);
  });

  it("is read without Kusto.Language: the reader imports nothing of the loader's compiler", () => {
    const source = readFileSync(path.join(__dirname, "../../functions/loader/compiled.ts"), "utf8");
    const imports = [...source.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    expect(imports.sort()).toEqual([
      "../detections/folder",
      "./loadedRule",
      "node:crypto",
      "node:fs",
      "node:path",
    ]);
  });
});
