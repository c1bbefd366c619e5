import type { TokenCredential } from "@azure/core-auth";
import { ConfigError } from "../../functions/config/configError";
import {
  detectionQueues,
  fanOutConfigured,
  QUEUE_CONNECTION,
  QUEUE_SERVICE_URI_SETTING,
} from "../../functions/fanout/queues";

const AZURITE =
  "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
  "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
  "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;";

/** Never asked for a token here: building a client signs nothing in. */
const credential: TokenCredential = {
  getToken: () => Promise.reject(new Error("no token in this test")),
};

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("detection queue connection", () => {
  it("reaches Azure by the service URI and the identity, and names the queues", () => {
    let asked = 0;
    const queues = detectionQueues(
      { [QUEUE_SERVICE_URI_SETTING]: "https://stabc.queue.core.windows.net/" },
      () => {
        asked += 1;
        return credential;
      },
    );
    expect(asked).toBe(1);
    expect(queues.work.url).toBe("https://stabc.queue.core.windows.net/detection-runs");
    expect(queues.poison.url).toBe("https://stabc.queue.core.windows.net/detection-runs-poison");
    expect(queues.settings).toBe(QUEUE_SERVICE_URI_SETTING);
  });

  it("reaches Azurite by its connection string, asking for no Azure credential", () => {
    const queues = detectionQueues({ [QUEUE_CONNECTION]: AZURITE }, () => {
      throw new Error("must not be asked");
    });
    expect(queues.work.url).toBe("http://127.0.0.1:10001/devstoreaccount1/detection-runs");
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ["neither form", {}, /DETECTION_QUEUE__queueServiceUri or DETECTION_QUEUE must be set/],
    [
      "both forms",
      {
        [QUEUE_CONNECTION]: AZURITE,
        [QUEUE_SERVICE_URI_SETTING]: "https://s.queue.core.windows.net",
      },
      /are both set/,
    ],
    [
      "a service URI over http",
      { [QUEUE_SERVICE_URI_SETTING]: "http://s.queue.core.windows.net" },
      /uses http; expected https/,
    ],
    ["a service URI that is no URL", { [QUEUE_SERVICE_URI_SETTING]: "stabc" }, /is not a URL/],
  ])("refuses %s with one line naming the setting", (_, env, problem) => {
    const problems = problemsOf(() => detectionQueues(env, () => credential));
    expect(problems).toEqual([expect.stringMatching(problem) as unknown]);
  });

  it("is configured by either form, and only then", () => {
    expect(fanOutConfigured({})).toBe(false);
    expect(fanOutConfigured({ [QUEUE_CONNECTION]: " " })).toBe(false);
    expect(fanOutConfigured({ [QUEUE_CONNECTION]: AZURITE })).toBe(true);
    expect(
      fanOutConfigured({ [QUEUE_SERVICE_URI_SETTING]: "https://s.queue.core.windows.net" }),
    ).toBe(true);
  });
});
