// tsc emits only what code imports; the detection's data files (KQL, YAML) are read from disk at
// run time, so the build copies them beside the compiled modules that read them.
const { cpSync } = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const DATA_FILE = /\.(kql|ya?ml)$/;

for (const dir of ["functions", "sandbox"]) {
  cpSync(path.join(root, dir), path.join(root, "dist", dir), {
    recursive: true,
    filter: (source) => !path.extname(source) || DATA_FILE.test(source),
  });
}
