// tsc emits only what code imports; the detection's data files (KQL, YAML) are read from disk at
// run time, so the build copies them beside the compiled modules that read them. Then it compiles
// the rules (functions/loader/compile.ts, with Kusto.Language, just built by tsc) into
// dist/functions/detections/detections.compiled.json, the only rule file the function reads.
const { cpSync } = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
// The sandbox's sample events too: read from disk so a broken edit is one line, not a stack.
const DATA_FILE = /(\.(kql|ya?ml)|[\\/]sample-events(\.rules)?\.json)$/;

for (const dir of ["functions", "sandbox"]) {
  cpSync(path.join(root, dir), path.join(root, "dist", dir), {
    recursive: true,
    filter: (source) => !path.extname(source) || DATA_FILE.test(source),
  });
}

const { writeCompiledDetections } = require(
  path.join(root, "dist", "functions", "loader", "compile.js"),
);
writeCompiledDetections(
  path.join(root, "functions", "detections"),
  path.join(root, "dist", "functions", "detections"),
);
