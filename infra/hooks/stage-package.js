// azd prepackage hook (azure.yaml): stages the deployment package in dist/package with the
// production dependencies only, and leaves the project's own node_modules as it is.
//
// azd restores the project with `npm install` (devDependencies included: the build needs
// typescript) and zips the folder azure.yaml names in `dist`. Zipping the project root would ship
// that node_modules whole, jest, azurite and typescript included. azd runs this hook after the
// restore and before it zips, from the project root. It:
//   1. builds the code with the project's devDependencies (npm run build);
//   2. copies what the app runs from into dist/package: host.json, package.json, the lockfile and
//      dist/, plus the .funcignore that azd applies when it zips that folder;
//   3. installs the lockfile's production dependencies there (npm ci --omit=dev);
//   4. fails if a package the lockfile marks dev-only is there anyway (an npm config that
//      includes dev dependencies overrides --omit=dev).
const { spawnSync } = require("node:child_process");
const { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } = require("node:fs");
const path = require("node:path");
const process = require("node:process");

const STAGE = path.join("dist", "package");
/** What the app needs from the project root; the hook refuses to run without them. */
const REQUIRED = ["host.json", "package.json", "package-lock.json"];
/** Copied when present: the ignore list azd applies when it zips the package. */
const OPTIONAL = [".funcignore"];

function fail(message) {
  process.stderr.write(`stage-package: ${message}\n`);
  process.exit(1);
}

function npm(args, cwd) {
  process.stdout.write(`stage-package: npm ${args.join(" ")} (in ${cwd})\n`);
  // npm is npm.cmd on Windows, which only a shell runs; the arguments are constants.
  const result = spawnSync("npm", args, {
    cwd,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (result.error !== undefined) fail(`npm ${args[0]} could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`npm ${args.join(" ")} exited with ${result.status}`);
}

/** Lockfile paths (node_modules/...) of the packages only devDependencies need. */
function devOnlyPackages(lockfile) {
  const lock = JSON.parse(readFileSync(lockfile, "utf8"));
  return Object.entries(lock.packages ?? {})
    .filter(([location, entry]) => location !== "" && entry.dev === true)
    .map(([location]) => location);
}

const root = process.cwd();
for (const file of REQUIRED) {
  if (!existsSync(path.join(root, file))) fail(`run me from the project root: no ${file} here`);
}
const stage = path.join(root, STAGE);

npm(["run", "build"], root);

rmSync(stage, { recursive: true, force: true });
mkdirSync(path.join(stage, "dist"), { recursive: true });
for (const file of [...REQUIRED, ...OPTIONAL.filter((f) => existsSync(path.join(root, f)))]) {
  cpSync(path.join(root, file), path.join(stage, file));
}
for (const entry of readdirSync(path.join(root, "dist"))) {
  if (entry === path.basename(STAGE)) continue;
  cpSync(path.join(root, "dist", entry), path.join(stage, "dist", entry), { recursive: true });
}

const { main } = JSON.parse(readFileSync(path.join(stage, "package.json"), "utf8"));
if (typeof main !== "string" || !existsSync(path.join(stage, main))) {
  fail(`the build left no ${String(main)} (package.json "main") to deploy`);
}

npm(["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], stage);

const devOnly = devOnlyPackages(path.join(stage, "package-lock.json")).filter((location) =>
  existsSync(path.join(stage, location)),
);
if (devOnly.length > 0) {
  fail(`dev-only packages in ${STAGE}: ${devOnly.slice(0, 5).join(", ")}`);
}
process.stdout.write(`stage-package: ${STAGE} holds the build and production dependencies only\n`);
