import { Resources, runScenario, within } from "../../scripts/benchHarness";

/** A promise that never settles: a stand-in that never reports it started. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

describe("runScenario", () => {
  it("stops what a scenario started when a later start fails, and reports the failure", async () => {
    const stopped: string[] = [];
    const outcome = await runScenario("fails", 5000, async (resources) => {
      resources.add("azurite", "a", (name) => void stopped.push(name));
      resources.add("proxy", "p", (name) => void stopped.push(name));
      await Promise.reject(new Error("Log Analytics stand-in did not start: EADDRINUSE"));
    });
    expect(outcome).toMatchObject({
      status: "failed",
      error: "Log Analytics stand-in did not start: EADDRINUSE",
      cleanup: [],
    });
    expect(stopped).toEqual(["p", "a"]);
  });

  it("gives up on a start that never settles and still stops what was started", async () => {
    const stopped: string[] = [];
    const outcome = await runScenario("hangs", 50, async (resources) => {
      resources.add("azurite", "a", (name) => void stopped.push(name));
      await never();
    });
    expect(outcome).toMatchObject({
      status: "timed out",
      error: "hangs did not finish within 0 s",
    });
    expect(stopped).toEqual(["a"]);
  });

  it("returns the body's value when all goes well", async () => {
    const outcome = await runScenario("works", 5000, () => Promise.resolve(42));
    expect(outcome).toEqual({ status: "ok", value: 42, cleanup: [] });
  });
});

describe("Resources.closeAll", () => {
  it("moves on from a stop that hangs or throws, and names it", async () => {
    const resources = new Resources();
    const stopped: string[] = [];
    resources.add("first", "1", (name) => void stopped.push(name));
    resources.add("stuck", "2", () => never<void>());
    resources.add("broken", "3", () => {
      throw new Error("already gone");
    });
    const problems = await resources.closeAll(50);
    expect(problems).toEqual(["already gone", "stopping stuck did not finish within 0 s"]);
    expect(stopped).toEqual(["1"]);
  });
});

describe("within", () => {
  it("passes a value or an error through unchanged", async () => {
    await expect(within(Promise.resolve("v"), 1000, "x")).resolves.toBe("v");
    await expect(within(Promise.reject(new Error("e")), 1000, "x")).rejects.toThrow("e");
  });
});
