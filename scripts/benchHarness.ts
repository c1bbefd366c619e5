// What keeps `npm run bench` from hanging: every scenario runs against a deadline, everything it
// starts (Azurite, stand-ins, child processes) is registered as it starts and stopped however the
// scenario ends, and each stop has a deadline of its own. A stand-in that fails to start, or never
// answers, costs its scenario a "failed" or "timed out" row, never the bench.

/** Rejects with a TimeoutError after `ms` unless `promise` settles first; the timer never holds the process. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Something did not finish in the time it had. */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${Math.round(ms / 1000)} s`);
    this.name = "TimeoutError";
  }
}

/** How long one resource gets to stop before the bench moves on without it. */
const STOP_TIMEOUT_MS = 10_000;

/** What a scenario has started, stopped in reverse order when it ends. */
export class Resources {
  private readonly started: { name: string; stop: () => Promise<void> | void }[] = [];

  /** Registers a started resource with the way to stop it; returns the resource. */
  add<T>(name: string, resource: T, stop: (resource: T) => Promise<void> | void): T {
    this.started.push({ name, stop: () => stop(resource) });
    return resource;
  }

  /** Stops everything registered, newest first; returns what failed or hung, never throws. */
  async closeAll(stopTimeoutMs = STOP_TIMEOUT_MS): Promise<string[]> {
    const problems: string[] = [];
    for (const { name, stop } of this.started.splice(0).reverse()) {
      try {
        await within(Promise.resolve().then(stop), stopTimeoutMs, `stopping ${name}`);
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    return problems;
  }
}

/** How a scenario ended. */
export type ScenarioOutcome<T> =
  | { status: "ok"; value: T; cleanup: string[] }
  | { status: "failed" | "timed out"; error: string; cleanup: string[] };

/**
 * Runs `body` with its own Resources, within `timeoutMs`, and stops what it started whatever
 * happens. A body that fails or hangs gives a failed or timed-out outcome; nothing is thrown.
 */
export async function runScenario<T>(
  name: string,
  timeoutMs: number,
  body: (resources: Resources) => Promise<T>,
  stopTimeoutMs?: number,
): Promise<ScenarioOutcome<T>> {
  const resources = new Resources();
  let outcome: ScenarioOutcome<T>;
  try {
    const value = await within(body(resources), timeoutMs, name);
    outcome = { status: "ok", value, cleanup: [] };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const status = error instanceof TimeoutError ? "timed out" : "failed";
    outcome = { status, error: message, cleanup: [] };
  }
  outcome.cleanup = await resources.closeAll(stopTimeoutMs);
  return outcome;
}
