// azd prepackage hook (azure.yaml): stages the deployment package in dist/package (or the folder
// given as its argument). The README's
// "deploy without azd" publishes the same folder.
//
// The package is the esbuild bundle (scripts/bundle.js) and the files the Functions host reads:
//   host.json, package.json  (written here: "main" is the bundle, no dependencies to install),
//   index.js                 (the function app and every library it uses, @azure/functions-core
//                             aside, which the host provides),
//   *.kql, *.yaml            (the detection's data, read beside the bundle at run time),
//   .funcignore              (the project's, which azd applies when it zips this folder).
// No node_modules: nothing is installed on the server or shipped beside the bundle, so a remote
// build, were one forced, would have nothing to do. azd has restored the project's
// devDependencies (esbuild among them) before it runs this hook, from the project root.
const {
  cpSync,
  existsSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} = require("node:fs");
const path = require("node:path");
const process = require("node:process");
const { bundle } = require("../../scripts/bundle.js");

const ROOT = path.resolve(__dirname, "..", "..");
const STAGE = path.join(ROOT, "dist", "package");
/** Copied from the project root as they are. */
const COPIED = ["host.json", ".funcignore"];
/** The most the zipped package may weigh (issue 10); unzipped is a stricter bound. */
const MAX_PACKAGE_BYTES = 5 * 1024 * 1024;

/** The package.json of the deployed app: what the host reads, and nothing to install. */
function deployedManifest(project) {
  const { name, version, description, license, engines } = project;
  return { name, version, description, license, private: true, engines, main: "index.js" };
}

function sizeOf(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((total, entry) => {
    const full = path.join(dir, entry.name);
    return total + (entry.isDirectory() ? sizeOf(full) : statSync(full).size);
  }, 0);
}

/** Stages the deployment package of the project at `root` into `stage`; returns its files. */
async function stagePackage(root = ROOT, stage = STAGE) {
  const files = await bundle(stage);
  for (const file of COPIED) cpSync(path.join(root, file), path.join(stage, file));
  const project = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
  writeFileSync(
    path.join(stage, "package.json"),
    `${JSON.stringify(deployedManifest(project), null, 2)}\n`,
  );
  const bytes = sizeOf(stage);
  if (bytes > MAX_PACKAGE_BYTES) {
    throw new Error(`the package is ${bytes} bytes, over the ${MAX_PACKAGE_BYTES}-byte budget`);
  }
  return { files: [...files, ...COPIED, "package.json"], bytes };
}

module.exports = { stagePackage, STAGE };

if (require.main === module) {
  if (!existsSync(path.join(ROOT, "host.json"))) {
    process.stderr.write(`stage-package: no host.json in ${ROOT}\n`);
    process.exit(1);
  }
  // azd passes no argument; tests stage into a scratch folder.
  const stage = process.argv[2] ? path.resolve(process.argv[2]) : STAGE;
  stagePackage(ROOT, stage).then(
    ({ files, bytes }) =>
      process.stdout.write(
        `stage-package: ${path.relative(ROOT, stage)} holds ${files.join(", ")} ` +
          `(${(bytes / 1024 / 1024).toFixed(1)} MB, no node_modules)\n`,
      ),
    (error) => {
      process.stderr.write(
        `stage-package: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
