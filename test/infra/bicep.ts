// Runs the Bicep CLI that scripts/install-bicep.sh puts in .tools/, and walks compiled ARM JSON.
// A missing CLI fails the tests: a skipped infra suite would pass CI without checking anything.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
const INFRA_DIR = path.join(REPO_ROOT, "infra");
const BICEP = path.join(
  REPO_ROOT,
  ".tools",
  "bicep",
  process.platform === "win32" ? "bicep.exe" : "bicep",
);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A JSON value as text: strings as they are, anything else as JSON. */
export function text(value: Json | undefined): string {
  if (typeof value === "string") return value;
  return value === undefined ? "" : JSON.stringify(value);
}

/** The CLI's path; throws with the fix when it is not installed. */
function bicepPath(): string {
  if (!existsSync(BICEP)) {
    throw new Error(`Bicep CLI not found at ${BICEP}: run scripts/install-bicep.sh`);
  }
  return BICEP;
}

async function bicep(args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(bicepPath(), args, {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1" },
    });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    if (failed.stdout === undefined) throw error;
    // Non-zero exit (errors found): the caller reports the diagnostics.
    return { stdout: failed.stdout, stderr: failed.stderr ?? "" };
  }
}

/** Every .bicep file under infra/, relative to the repository root. */
export function bicepFiles(dir: string = INFRA_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(full);
    return entry.name.endsWith(".bicep") ? [path.relative(REPO_ROOT, full)] : [];
  });
}

export interface BuildResult {
  template: JsonObject | undefined;
  stderr: string;
}

/** Compiles one file to ARM JSON (bicep build --stdout). */
export async function build(file: string): Promise<BuildResult> {
  const { stdout, stderr } = await bicep(["build", "--stdout", file]);
  let template: JsonObject | undefined;
  try {
    const parsed = JSON.parse(stdout) as Json;
    template = isObject(parsed) ? parsed : undefined;
  } catch {
    template = undefined;
  }
  return { template, stderr };
}

/** Compiles main.bicep, failing with the compiler's output if it does not compile. */
export async function buildMain(): Promise<JsonObject> {
  const { template, stderr } = await build(path.join("infra", "main.bicep"));
  if (template === undefined) throw new Error(`infra/main.bicep does not compile:\n${stderr}`);
  return template;
}

export interface Diagnostic {
  ruleId: string;
  level: string;
  message: string;
  location: string;
}

/** Linter and compiler diagnostics of one file (and the modules it uses), from SARIF output. */
export async function lint(file: string): Promise<Diagnostic[]> {
  const { stdout, stderr } = await bicep(["lint", "--diagnostics-format", "sarif", file]);
  let sarif: Json;
  try {
    sarif = JSON.parse(stdout) as Json;
  } catch {
    throw new Error(`bicep lint ${file} printed no SARIF:\n${stdout}\n${stderr}`);
  }
  const runs = isObject(sarif) && Array.isArray(sarif.runs) ? sarif.runs : [];
  return runs.flatMap((runEntry) => {
    const results = isObject(runEntry) && Array.isArray(runEntry.results) ? runEntry.results : [];
    return results.filter(isObject).map((result): Diagnostic => {
      const message = isObject(result.message) ? text(result.message.text) : "";
      const location = JSON.stringify(result.locations ?? null);
      return {
        ruleId: text(result.ruleId),
        level: text(result.level),
        message,
        location,
      };
    });
  });
}

/** A resource with the template it is declared in, so its variables can be resolved. */
export interface Located {
  resource: JsonObject;
  template: JsonObject;
  /** Deployment names from main down to the template, e.g. ["function-app"]. */
  path: string[];
}

function resourcesOf(template: JsonObject): JsonObject[] {
  const resources = template.resources;
  if (Array.isArray(resources)) return resources.filter(isObject);
  // languageVersion 2.0 templates key resources by symbolic name.
  if (isObject(resources)) return Object.values(resources).filter(isObject);
  return [];
}

/** Every template: main and each nested module template, depth first. */
export function templatesOf(
  template: JsonObject,
  trail: string[] = [],
): { template: JsonObject; path: string[] }[] {
  const nested = resourcesOf(template).flatMap((resource) => {
    const properties = resource.properties;
    if (resource.type !== "Microsoft.Resources/deployments" || !isObject(properties)) return [];
    const inner = properties.template;
    return isObject(inner) ? templatesOf(inner, [...trail, text(resource.name)]) : [];
  });
  return [{ template, path: trail }, ...nested];
}

/** Every resource of every template, except the module deployments themselves. */
export function allResources(main: JsonObject): Located[] {
  return templatesOf(main).flatMap(({ template, path: trail }) =>
    resourcesOf(template)
      .filter((resource) => resource.type !== "Microsoft.Resources/deployments")
      .map((resource) => ({ resource, template, path: trail })),
  );
}

export function resourcesOfType(main: JsonObject, type: string): Located[] {
  return allResources(main).filter(
    ({ resource }) => text(resource.type).toLowerCase() === type.toLowerCase(),
  );
}

/** The single resource of a type; fails when there is none or more than one. */
export function onlyResource(main: JsonObject, type: string): Located {
  const found = resourcesOfType(main, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}

/** The module deployment main.bicep declares under the symbolic name `symbol`. */
export function moduleDeployment(main: JsonObject, symbol: string): JsonObject {
  // main.bicep compiles to languageVersion 2.0, which keys resources by symbolic name.
  const module = at(main, "resources", symbol);
  if (!isObject(module) || module.type !== "Microsoft.Resources/deployments") {
    throw new Error(`main.bicep has no module ${symbol}`);
  }
  return module;
}

/** Follows a path of object keys; undefined where it leads nowhere. */
export function at(value: Json | undefined, ...keys: string[]): Json | undefined {
  let current = value;
  for (const key of keys) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/**
 * Replaces a whole-value "[variables('x')]" with the variable, recursively: Bicep compiles
 * shared objects (auth blocks, loadJsonContent results) to template variables.
 */
export function resolveVariables(value: Json | undefined, template: JsonObject): Json | undefined {
  if (typeof value === "string") {
    const match = /^\[variables\('([^']+)'\)\]$/.exec(value);
    const variables = template.variables;
    if (match !== null && isObject(variables) && match[1] in variables) {
      return resolveVariables(variables[match[1]], template);
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => resolveVariables(item, template) ?? null);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolveVariables(item, template) ?? null]),
    );
  }
  return value;
}

/**
 * Inlines variables('x') references inside an ARM expression: string variables as quoted
 * literals, expression variables as their (recursively inlined) expression.
 */
export function inlineVariables(expression: string, template: JsonObject, depth = 0): string {
  const variables = isObject(template.variables) ? template.variables : {};
  const inlined = expression.replace(/variables\('([^']+)'\)/g, (whole, name: string) => {
    const value = variables[name];
    if (typeof value !== "string") return whole;
    if (value.startsWith("[") && value.endsWith("]") && !value.startsWith("[[")) {
      return `(${value.slice(1, -1)})`;
    }
    return `'${value}'`;
  });
  return inlined !== expression && depth < 10
    ? inlineVariables(inlined, template, depth + 1)
    : inlined;
}

/** Every string in a JSON value with the key path that leads to it. */
export function stringsIn(value: Json | undefined, trail: string[] = []): [string[], string][] {
  if (typeof value === "string") return [[trail, value]];
  if (Array.isArray(value)) return value.flatMap((item, i) => stringsIn(item, [...trail, `${i}`]));
  if (isObject(value)) {
    return Object.entries(value).flatMap(([key, item]) => stringsIn(item, [...trail, key]));
  }
  return [];
}

/** Every object key in a JSON value, with the value under it. */
export function entriesIn(value: Json | undefined): [string, Json][] {
  if (Array.isArray(value)) return value.flatMap((item) => entriesIn(item));
  if (isObject(value)) {
    return Object.entries(value).flatMap(([key, item]) => [
      [key, item] as [string, Json],
      ...entriesIn(item),
    ]);
  }
  return [];
}
