import { planQuery, splitWindow } from "../../functions/query/window";

const HOUR = 3_600_000;
const now = new Date("2026-11-25T12:00:00.000Z");
const base = { now, lookbackMs: 7 * 24 * HOUR, settleMs: 2 * 60_000 };

describe("planQuery", () => {
  it("first run: looks back the whole lookback, up to the settle margin", () => {
    const plan = planQuery({ ...base, watermark: undefined });
    expect(plan?.window.start.toISOString()).toBe("2026-11-18T12:00:00.000Z");
    expect(plan?.window.end.toISOString()).toBe("2026-11-25T11:58:00.000Z");
    expect(plan?.coverageGap).toBe(false);
  });

  it("later runs continue from the watermark, while the timespan still covers the lookback", () => {
    const plan = planQuery({ ...base, watermark: new Date("2026-11-25T11:53:00.000Z") });
    expect(plan?.window.start.toISOString()).toBe("2026-11-25T11:53:00.000Z");
    expect(plan?.timespan.startTime.toISOString()).toBe("2026-11-18T12:00:00.000Z");
    // Past now, so events from devices whose clocks run ahead are not filtered out.
    expect(plan?.timespan.endTime.getTime()).toBeGreaterThan(now.getTime());
  });

  it("has nothing to do when the watermark already reaches the settle margin", () => {
    expect(planQuery({ ...base, watermark: new Date("2026-11-25T11:58:00.000Z") })).toBeUndefined();
  });

  it("flags a watermark older than the lookback as a coverage gap", () => {
    const plan = planQuery({ ...base, watermark: new Date("2026-11-01T00:00:00.000Z") });
    expect(plan?.coverageGap).toBe(true);
  });
});

describe("planQuery: routine and catch-up passes", () => {
  const passes = { ...base, maxIngestionDelayMs: 24 * HOUR, catchUpIntervalMs: HOUR };
  const watermark = new Date("2026-11-25T11:53:00.000Z");

  it("routine: the timespan starts MAX_INGESTION_DELAY before the window, not a lookback ago", () => {
    const plan = planQuery({ ...passes, pass: "routine", watermark });
    expect(plan?.window.start).toEqual(watermark);
    expect(plan?.timespan.startTime.toISOString()).toBe("2026-11-24T11:53:00.000Z");
  });

  it("routine, first run: the timespan is the whole lookback, as its window is", () => {
    const plan = planQuery({ ...passes, pass: "routine", watermark: undefined });
    expect(plan?.timespan.startTime.toISOString()).toBe("2026-11-18T12:00:00.000Z");
  });

  it("catch-up: the whole lookback, once its window spans CATCHUP_SCHEDULE", () => {
    const hourAgo = new Date("2026-11-25T10:58:00.000Z");
    const plan = planQuery({ ...passes, pass: "catchup", watermark: hourAgo });
    expect(plan?.pass).toBe("catchup");
    expect(plan?.window).toEqual({ start: hourAgo, end: new Date("2026-11-25T11:58:00.000Z") });
    expect(plan?.timespan.startTime.toISOString()).toBe("2026-11-18T12:00:00.000Z");
  });

  it("catch-up: not due while its window is shorter than CATCHUP_SCHEDULE", () => {
    const recent = new Date("2026-11-25T10:58:00.001Z");
    expect(planQuery({ ...passes, pass: "catchup", watermark: recent })).toBeUndefined();
  });
});

describe("splitWindow", () => {
  it("splits at the midpoint into adjacent half-open windows", () => {
    const start = new Date("2026-11-25T10:00:00.000Z");
    const end = new Date("2026-11-25T10:00:00.005Z");
    const [a, b] = splitWindow({ start, end });
    expect(a.start).toEqual(start);
    expect(a.end).toEqual(b.start);
    expect(b.end).toEqual(end);
    expect(a.end.toISOString()).toBe("2026-11-25T10:00:00.002Z");
  });
});
