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
});
