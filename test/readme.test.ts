import { readFileSync } from "node:fs";
import path from "node:path";
import { acceptedValues, SETTINGS, type SettingSpec } from "../functions/config/settings";

const readme = readFileSync(path.join(__dirname, "..", "README.md"), "utf8");

function tableBetween(start: string, end: string): string[][] {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end, from);
  expect(from).toBeGreaterThan(-1);
  return readme
    .slice(from, to)
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .slice(2) // header and separator
    .map((line) =>
      line
        .slice(1, -1)
        .split("|")
        .map((cell) => cell.trim()),
    );
}

describe("README", () => {
  it("documents every setting the function reads, with its default, in the settings list's order", () => {
    const expected = SETTINGS.map((s) => [
      `\`${s.name}\``,
      "default" in s ? `\`${s.default}\`` : "—",
      s.source === "infra" ? "Bicep" : "optional",
      s.description,
    ]);
    expect(tableBetween("<!-- settings-table:start", "<!-- settings-table:end")).toEqual(expected);
  });

  it("gives the accepted range of every bounded setting, as the configuration checks it", () => {
    const bounded: SettingSpec[] = SETTINGS.filter((s: SettingSpec) => s.range !== undefined);
    expect(bounded.length).toBeGreaterThan(0);
    expect(tableBetween("<!-- settings-ranges:start", "<!-- settings-ranges:end")).toEqual(
      bounded.map((s) => [`\`${s.name}\``, acceptedValues(s)]),
    );
  });

  it("shows the two commands a newcomer needs", () => {
    expect(readme).toMatch(/^npm start$/m);
    expect(readme).toMatch(/^npm test$/m);
  });

  it("shows what it is and the two commands in its first screen", () => {
    const firstScreen = readme.split("\n").slice(0, 30).join("\n");
    expect(firstScreen).toMatch(/Microsoft Sentinel detection/);
    expect(firstScreen).toMatch(/^npm start\b/m);
    expect(firstScreen).toMatch(/^npm test\b/m);
  });

  it("names only npm scripts that exist", () => {
    const scripts = Object.keys(
      (
        JSON.parse(readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as {
          scripts: Record<string, string>;
        }
      ).scripts,
    );
    const named = [...readme.matchAll(/npm run ([a-z][\w:-]*)/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(0);
    expect([...new Set(named)].filter((name) => !scripts.includes(name))).toEqual([]);
  });

  it("lists the Bicep CLI platforms install-bicep.sh installs for", () => {
    const script = readFileSync(path.join(__dirname, "..", "scripts", "install-bicep.sh"), "utf8");
    const platforms = /^\s+(linux-x64 \| [^)]*)\) ;;$/m.exec(script)?.[1].split(" | ") ?? [];
    expect(platforms).toEqual(["linux-x64", "linux-arm64", "osx-x64", "osx-arm64", "win-x64"]);
    for (const platform of platforms) expect(readme).toContain(platform);
  });

  it("uses no internal tracker jargon", () => {
    expect(readme).not.toMatch(/\bissue \d+/i);
  });
});
