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

  // Nothing may trail or sit between the units: each of these once read as its valid prefix.
  it.each([
    "P7Dfoo",
    "P7D8",
    "PT2M30",
    "PT2M30S ",
    " P7D",
    "P7DT",
    "PT1H2",
    "P1DT2H3M4S5",
    "PT1.5M",
    "p7d",
    "P7D\n",
    "PT2M30SPT1M",
    "P1D1W",
    "PT1S1M",
  ])("refuses %p, a duration with something trailing or out of order", (text) => {
    expect(isoDurationMs(text)).toBeUndefined();
  });

  it.each([
    ["PT2M30S", 150_000],
    ["P7D", 7 * DAY],
    ["PT1H", 3_600_000],
    ["P1DT12H", 1.5 * DAY],
    ["PT0.5S", 500],
    ["P2W", 14 * DAY],
  ])("reads %p whole", (text, ms) => {
    expect(isoDurationMs(text)).toBe(ms);
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
