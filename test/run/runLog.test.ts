import { warningsOnce, type RunLog } from "../../functions/run/runLog";

/** A RunLog that keeps what it was told, by level. */
function recording(): RunLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

describe("warningsOnce", () => {
  it("says a warning once however often it comes; other warnings and every info or error pass", () => {
    const log = recording();
    const once = warningsOnce(log);
    for (const _ of [1, 2, 3]) {
      once.warn("exclusions watchlist 'w', row 'r': bad; row skipped");
      once.info("run completed");
      once.error("run failed");
    }
    once.warn("another warning");
    expect(log.lines).toEqual([
      "warn exclusions watchlist 'w', row 'r': bad; row skipped",
      "info run completed",
      "error run failed",
      "info run completed",
      "error run failed",
      "info run completed",
      "error run failed",
      "warn another warning",
    ]);
  });
});
