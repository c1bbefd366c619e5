import { isoDurationMs } from "../../functions/config/duration";

describe("isoDurationMs", () => {
  it("sums weeks, days, hours, minutes and fractional seconds", () => {
    expect(isoDurationMs("P1W2DT3H4M5.5S")).toBe(((((7 + 2) * 24 + 3) * 60 + 4) * 60 + 5.5) * 1000);
    expect(isoDurationMs("PT2M")).toBe(120_000);
  });

  it.each(["", "P", "7d", "P1M", "P1Y", "-PT1H", "PT"])("refuses %p", (text) => {
    expect(isoDurationMs(text)).toBeUndefined();
  });
});
