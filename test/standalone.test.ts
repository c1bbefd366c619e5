// The repository stands alone: a user who clones it has nothing beside it, so no source, test or
// script may name a path outside the repository. Paths built from __dirname and literals are
// resolved on the TypeScript syntax tree (from the source's folder and from its build's, dist/...);
// any tracked file that spells the climb to the material folder beside the repository is caught too.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const REPO_ROOT = path.resolve(__dirname, "..");
const tracked = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], {
  cwd: REPO_ROOT,
  encoding: "utf8",
})
  .split("\n")
  .filter((f) => f !== "" && !f.endsWith("package-lock.json") && !f.endsWith(".md"));
const scripts = tracked.filter((f) => /\.(ts|js|mjs|cjs)$/.test(f));

/** The leading literal segments of each `path.join/resolve(__dirname, ...)` call in a file. */
function dirnameSegments(file: string, text: string): string[][] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[][] = [];
  function visit(node: ts.Node): void {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ["join", "resolve"].includes(node.expression.name.text) &&
      node.arguments.length > 0 &&
      ts.isIdentifier(node.arguments[0]) &&
      node.arguments[0].text === "__dirname"
    ) {
      const rest = node.arguments.slice(1);
      const literals = rest.filter(ts.isStringLiteralLike).map((a) => a.text);
      // Only the leading literal segments decide whether the path climbs out of the tree.
      const leading = literals.slice(0, rest.findIndex((a) => !ts.isStringLiteralLike(a)) >>> 0);
      found.push(leading);
    }
    ts.forEachChild(node, visit);
  }
  visit(source);
  return found;
}

// tsconfig.build.json compiles these folders to dist/<folder>, where their code runs.
const BUILT = ["functions", "sandbox", "scripts"];

/** Where the segments lead from the source's folder and, for built code, from dist/<folder>. */
function resolvedFrom(file: string, segments: string[]): string[] {
  const folder = path.dirname(file);
  const built = BUILT.includes(folder.split(path.sep)[0]) ? [path.join("dist", folder)] : [];
  return [folder, ...built].map((dir) => path.resolve(REPO_ROOT, dir, ...segments));
}

/** A path is inside when it stays in the repository from the source or from the build. */
function staysInside(file: string, segments: string[]): boolean {
  return resolvedFrom(file, segments).some((p) => !path.relative(REPO_ROOT, p).startsWith(".."));
}

// Built from parts so this file does not match its own check.
const BESIDE = new RegExp(["\\.\\.", "[\\\\/]+", "shared\\b"].join(""));

describe("the repository stands alone", () => {
  it("builds no path from __dirname that leaves the repository", () => {
    const outside = scripts.flatMap((file) =>
      dirnameSegments(file, readFileSync(path.join(REPO_ROOT, file), "utf8"))
        .filter((segments) => !staysInside(file, segments))
        .map((segments) => `${file}: ${segments.join("/")}`),
    );
    expect(outside).toEqual([]);
  });

  it("names no folder beside the repository in any tracked file", () => {
    const beside = tracked.filter((file) =>
      BESIDE.test(readFileSync(path.join(REPO_ROOT, file), "utf8")),
    );
    expect(beside).toEqual([]);
  });

  it("resolves the way the old schema lookup climbed out, so the check above can fail", () => {
    const probe = 'path.resolve(__dirname, "..", "..", "..", "material", "schemas", name);';
    const file = "test/detection/kql.test.ts";
    const [segments] = dirnameSegments(file, probe);
    expect(segments).toEqual(["..", "..", "..", "material", "schemas"]);
    expect(staysInside(file, segments)).toBe(false);
    expect(staysInside(file, ["..", "..", "schemas", "tables"])).toBe(true);
  });
});
