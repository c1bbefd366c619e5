import { isoDuration, isoDurationMs } from "../../functions/config/duration";

const DAY = 86_400_000;

describe("isoDurationMs", () => {
  it("sums weeks, days, hours, minutes and fractional seconds", () => {
    expect(isoDurationMs("P1W2DT3H4M5.5S")).toBe(((((7 + 2) * 24 + 3) * 60 + 4) * 60 + 5.5) * 1000);
    expect(isoDurationMs("PT2M")).toBe(120_000);
  });

  it.each(["", "P", "7d", "P1M", "P1Y", "-PT1H", "PT"])("refuses %p", (text) => {
    expect(isoDurationMs(text)).toBeUndefined();
  });
});

describe("isoDuration", () => {
  it.each([
    [DAY, "P1D"],
    [7 * DAY, "P7D"],
    [6 * 3_600_000, "PT6H"],
    [90_000, "PT90S"],
  ])("%i ms is %s", (ms, text) => {
    expect(isoDuration(ms)).toBe(text);
  });
});
