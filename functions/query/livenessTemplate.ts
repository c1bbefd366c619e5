import { existsSync } from "node:fs";
import path from "node:path";

/** The repository's root: the nearest folder up from here with a package.json. */
function repositoryRoot(): string {
  // Sources in functions/query, the build in dist/functions/query, the bundled compiler in dist/:
  // find the repository by its package.json rather than counting levels.
  let dir = __dirname;
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) {
    dir = path.dirname(dir);
  }
  return dir;
}

/**
 * The table-liveness query template (its union lists nbtscan's tables), a build-time input: the
 * loader writes each rule's own query from it into the compiled rules
 * (functions/loader/livenessQuery.ts); the function reads only those.
 */
export const LIVENESS_TEMPLATE_FILE = path.join(
  repositoryRoot(),
  "functions",
  "query",
  "table-liveness.kql",
);
