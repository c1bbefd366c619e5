// Every .bicep file under infra/ compiles, and the linter (rules raised in infra/bicepconfig.json)
// reports neither errors nor warnings for it.
import { bicepFiles, build, lint, type BuildResult, type Diagnostic } from "./bicep";

const files = bicepFiles();
const builds = new Map<string, BuildResult>();
const diagnostics = new Map<string, Diagnostic[]>();

beforeAll(async () => {
  // Sequential: the machine has two cores and each CLI start is a .NET process.
  for (const file of files) {
    builds.set(file, await build(file));
    diagnostics.set(file, await lint(file));
  }
}, 300_000);

describe("infra/**/*.bicep", () => {
  it("finds main.bicep and its modules", () => {
    expect(files).toContain("infra/main.bicep");
    expect(files.filter((file) => file.startsWith("infra/modules/")).length).toBeGreaterThan(0);
  });

  it.each(files)("%s compiles to an ARM template", (file) => {
    const result = builds.get(file);
    expect(result?.stderr ?? "").not.toMatch(/\bError\b/);
    expect(result?.template?.$schema).toMatch(/deploymentTemplate\.json#$/i);
  });

  it.each(files)("%s has no linter or compiler errors or warnings", (file) => {
    const problems = (diagnostics.get(file) ?? []).filter(
      (diagnostic) => diagnostic.level === "error" || diagnostic.level === "warning",
    );
    expect(problems).toEqual([]);
  });
});
