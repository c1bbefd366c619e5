import {
  createHttpHeaders,
  createPipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { retryAfterCapPolicy } from "../../functions/http/retryAfterCap";

async function capped(headers: Record<string, string>, maxMs: number): Promise<PipelineResponse> {
  const request = createPipelineRequest({ url: "https://127.0.0.1/" });
  return retryAfterCapPolicy(maxMs).sendRequest(request, (req) =>
    Promise.resolve({ request: req, status: 429, headers: createHttpHeaders(headers) }),
  );
}

describe("retryAfterCapPolicy", () => {
  it("caps Retry-After seconds and the millisecond variants", async () => {
    const response = await capped(
      { "retry-after": "3600", "retry-after-ms": "900000", "x-ms-retry-after-ms": "5" },
      30_000,
    );
    expect(response.headers.get("retry-after")).toBe("30");
    expect(response.headers.get("retry-after-ms")).toBe("30000");
    expect(response.headers.get("x-ms-retry-after-ms")).toBe("5");
  });

  it("caps an HTTP-date Retry-After far in the future", async () => {
    const inAnHour = new Date(Date.now() + 3_600_000).toUTCString();
    expect((await capped({ "retry-after": inAnHour }, 10_000)).headers.get("retry-after")).toBe(
      "10",
    );
  });

  it("leaves short waits and responses without the header alone", async () => {
    expect((await capped({ "retry-after": "2" }, 30_000)).headers.get("retry-after")).toBe("2");
    expect((await capped({}, 30_000)).headers.get("retry-after")).toBeUndefined();
  });
});
