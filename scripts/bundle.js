// Builds the deployed function: one esbuild bundle of functions/index.ts and its dependencies,
// with the detection's data files beside it. `node scripts/bundle.js [outdir]` (default
// dist/bundle); infra/hooks/stage-package.js and the packaging test call bundle() directly.
//
// Why a bundle: the function app loads its entry module on every cold start, and Node resolving
// and reading several hundred files of node_modules is most of that cost; one file is not. The
// package also ships no node_modules at all (68 MB before, @azure/msal-browser alone 15.8 MB).
//
// What stays outside:
//   - @azure/functions-core, which the Functions host's Node worker provides at run time (it is
//     not on npm); @azure/functions looks it up lazily and falls back to a test mode without it.
//   - the data files the code reads beside its modules (the rules folder functions/detections,
//     see its folder.ts; functions/triage/exclusions-watchlist.kql): every module's __dirname is the bundle's own directory once
//     bundled, so they are copied beside index.js.
// JSON (the schemas) is imported, so esbuild inlines it.
//
// The rules are compiled here, not at run time: functions/loader/compile.ts loads, checks and
// rewrites each rule with Kusto.Language (a devDependency) and writes detections.compiled.json
// beside index.js; the function reads only that file (functions/loader/compiled.ts), which
// checks it against the rule files copied beside it.
const { cpSync, mkdirSync, readdirSync, rmSync } = require("node:fs");
const path = require("node:path");
const process = require("node:process");

const ROOT = path.resolve(__dirname, "..");
const ENTRY = path.join(ROOT, "functions", "index.ts");
const COMPILER = path.join(ROOT, "functions", "loader", "compile.ts");
const RULES_DIR = path.join(ROOT, "functions", "detections");
/** Folders whose data files the code reads at run time, flattened beside index.js. */
const DATA_DIRS = ["detections", "triage"].map((dir) => path.join(ROOT, "functions", dir));
const DATA_FILE = /\.(kql|ya?ml)$/;
/** Provided by the Functions host, never bundled. */
const HOST_PROVIDED = ["@azure/functions-core"];

/** Detection unit tests (sandbox/detectionTests.ts): development data, never deployed. */
const TEST_FILE = /\.tests\.ya?ml$/;

/** The data files the bundle reads at run time, as full paths. */
function dataFiles() {
  return DATA_DIRS.flatMap((dir) =>
    readdirSync(dir)
      .filter((name) => DATA_FILE.test(name) && !TEST_FILE.test(name))
      .map((name) => path.join(dir, name)),
  );
}

/**
 * Compiles the rules of functions/detections into `outdir`: the compiler is TypeScript, so it is
 * bundled first (its packages left to node_modules, where Kusto.Language's script files are read)
 * into a scratch file inside the project, whence Node resolves them. Returns the file's name.
 */
async function compileRules(outdir) {
  const esbuild = require("esbuild");
  const scratch = path.join(ROOT, "dist", `.compile-detections-${process.pid}.js`);
  mkdirSync(path.dirname(scratch), { recursive: true });
  try {
    await esbuild.build({
      entryPoints: [COMPILER],
      outfile: scratch,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      packages: "external",
      logLevel: "warning",
    });
    const { writeCompiledDetections } = require(scratch);
    return path.basename(writeCompiledDetections(RULES_DIR, outdir));
  } finally {
    rmSync(scratch, { force: true });
  }
}

/**
 * Bundles the function app into `outdir` (emptied first): index.js plus the data files. Returns
 * the files written, relative to outdir.
 */
async function bundle(outdir) {
  // Required here, not at the top: the hook that stages the package only needs it when it bundles.
  const esbuild = require("esbuild");
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await esbuild.build({
    entryPoints: [ENTRY],
    outfile: path.join(outdir, "index.js"),
    bundle: true,
    platform: "node",
    // Node 20 is the oldest the project supports; Azure runs Node 22.
    target: "node20",
    format: "cjs",
    external: HOST_PROVIDED,
    // Some dependencies ship only ESM that reads import.meta.url at load (@azure/storage-common's
    // CRC64 module, via @azure/storage-queue: createRequire(import.meta.url)); a CommonJS bundle
    // has no import.meta, so it gets the bundle's own file URL instead of undefined.
    banner: { js: 'var __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { "import.meta.url": "__bundleUrl" },
    // Smaller to read and parse at every cold start; names kept so stack traces and error
    // names stay readable in Application Insights.
    minify: true,
    keepNames: true,
    legalComments: "linked",
    logLevel: "warning",
  });
  const files = dataFiles();
  for (const file of files) cpSync(file, path.join(outdir, path.basename(file)));
  const compiled = await compileRules(outdir);
  return ["index.js", "index.js.LEGAL.txt", ...files.map((file) => path.basename(file)), compiled];
}

module.exports = { bundle, HOST_PROVIDED };

if (require.main === module) {
  const outdir = path.resolve(process.argv[2] ?? path.join(ROOT, "dist", "bundle"));
  bundle(outdir).then(
    (files) => process.stdout.write(`bundle: ${files.join(", ")} in ${outdir}\n`),
    (error) => {
      process.stderr.write(`bundle: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
