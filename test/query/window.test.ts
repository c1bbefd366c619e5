import {
  extendCoverage,
  MAX_COVERAGE_WINDOWS,
  planQuery,
  routineCoveredFrom,
  splitWindow,
  type QueryPlan,
  type RoutineCoverage,
} from "../../functions/query/window";

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

describe("the catch-up pass leaves out what the routine pass covered", () => {
  const MINUTE = 60_000;
  const DAY = 24 * HOUR;
  const start = new Date("2026-11-20T00:00:00.000Z");
  const settings = { lookbackMs: 7 * DAY, settleMs: 2 * MINUTE, catchUpIntervalMs: HOUR };

  /** An event: when it was generated (TimeGenerated) and when it reached the workspace. */
  interface Event {
    generated: number;
    ingested: number;
  }

  // Deterministic pseudo-random numbers (a linear congruential generator), so a failure repeats.
  function random(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
  }

  /**
   * Runs the routine pass every five minutes for `hours`, MAX_INGESTION_DELAY changing as
   * `delayAt` says, recording its coverage as the run does; returns what the routine pass read,
   * its final watermark and coverage, and the catch-up's plan at the end.
   */
  function simulate(events: Event[], hours: number, delayAt: (run: number) => number) {
    const read = new Set<Event>();
    let watermark: Date | undefined = new Date(start.getTime() - 2 * MINUTE);
    let coverage: RoutineCoverage | undefined;
    const catchUpWatermark = watermark;
    let now = start;
    for (let run = 0; run < hours * 12; run++) {
      now = new Date(now.getTime() + 5 * MINUTE);
      const plan = planQuery({
        ...settings,
        now,
        watermark,
        maxIngestionDelayMs: delayAt(run),
      });
      if (!plan) continue;
      for (const e of events) {
        const inWindow =
          e.ingested >= plan.window.start.getTime() && e.ingested < plan.window.end.getTime();
        const inTimespan =
          e.generated >= plan.timespan.startTime.getTime() &&
          e.generated < plan.timespan.endTime.getTime();
        if (inWindow && inTimespan) read.add(e);
      }
      coverage = extendCoverage(coverage, plan.window, plan.timespan.startTime);
      watermark = plan.window.end;
    }
    const catchUp = planQuery({
      ...settings,
      pass: "catchup",
      now,
      watermark: catchUpWatermark,
      routine: { value: watermark, coverage },
    });
    return { read, catchUp, coverage, watermark, now };
  }

  /** Events ingested over the simulated hours, generated from seconds to six days before. */
  function events(count: number, hours: number, seed: number): Event[] {
    const next = random(seed);
    return Array.from({ length: count }, () => {
      const ingested = start.getTime() + Math.floor(next() * hours * HOUR);
      const delays = [
        next() * 10 * MINUTE,
        next() * 3 * HOUR,
        next() * 26 * HOUR,
        next() * 6 * DAY,
      ];
      return { ingested, generated: ingested - delays[Math.floor(next() * delays.length)] };
    });
  }

  function missedByBoth(all: Event[], read: Set<Event>, plan: QueryPlan | undefined): Event[] {
    if (!plan) throw new Error("the catch-up pass was due");
    return all.filter((e) => {
      if (read.has(e)) return false;
      const settled = e.ingested < plan.window.end.getTime();
      const inCatchUp =
        e.ingested >= plan.window.start.getTime() &&
        settled &&
        e.generated >= plan.timespan.startTime.getTime() &&
        e.generated < plan.timespan.endTime.getTime();
      // Only what has been ingested before the settle margin is due at all.
      return settled && !inCatchUp;
    });
  }

  it("misses no late event when MAX_INGESTION_DELAY grows between runs, and reads far less", () => {
    const all = events(4000, 3, 18);
    // An hour with a one-hour delay, then a day: the later windows' timespans reach further
    // back, the earlier ones' do not, and the catch-up bound must follow the earlier ones.
    const grows = simulate(all, 3, (run) => (run < 12 ? HOUR : DAY));
    expect(missedByBoth(all, grows.read, grows.catchUp)).toEqual([]);
    // The bound is the first hour's (its windows started an hour before themselves), not the
    // day the setting says now: that would have ended the catch-up's timespan a day too early.
    const end = grows.catchUp?.timespan.endTime.getTime() ?? 0;
    // The first hour's last window started 53 minutes in and read from an hour before that;
    // the catch-up reads to a minute past it (COVERED_MARGIN_MS).
    expect(end).toBe(start.getTime() + 53 * MINUTE - HOUR + MINUTE);
    // Without the recorded coverage the catch-up would read everything up to now + a day.
    expect(end).toBeLessThan(grows.now.getTime());
  });

  it("misses no late event when MAX_INGESTION_DELAY shrinks, nor when it stays", () => {
    const all = events(4000, 3, 7);
    for (const delayAt of [(run: number) => (run < 12 ? DAY : 10 * MINUTE), () => DAY]) {
      const sim = simulate(all, 3, delayAt);
      expect(missedByBoth(all, sim.read, sim.catchUp)).toEqual([]);
    }
  });

  it("the bound would lose events if it were taken from today's setting (the test can fail)", () => {
    const all = events(4000, 3, 18);
    const grows = simulate(all, 3, (run) => (run < 12 ? HOUR : DAY));
    const plan = grows.catchUp;
    if (!plan) throw new Error("the catch-up pass was due");
    // What a bound from the current setting (a day before the last window) would have read:
    const naive = {
      ...plan,
      timespan: { ...plan.timespan, endTime: new Date(grows.now.getTime() - DAY) },
    };
    expect(missedByBoth(all, grows.read, naive).length).toBeGreaterThan(0);
  });

  it("reads the whole lookback when the routine pass's coverage does not reach back far enough", () => {
    const coverage = extendCoverage(
      undefined,
      { start: new Date("2026-11-25T11:00:00Z"), end: new Date("2026-11-25T11:58:00Z") },
      new Date("2026-11-24T11:00:00Z"),
    );
    const plan = planQuery({
      ...settings,
      now,
      pass: "catchup",
      watermark: new Date("2026-11-25T10:00:00Z"),
      routine: { value: new Date("2026-11-25T11:58:00Z"), coverage },
    });
    expect(plan?.timespan.endTime.getTime()).toBeGreaterThan(now.getTime());
  });

  it("reads the whole lookback when the routine pass has not read the catch-up's whole window", () => {
    const coverage = extendCoverage(
      undefined,
      { start: new Date("2026-11-25T10:00:00Z"), end: new Date("2026-11-25T11:00:00Z") },
      new Date("2026-11-24T10:00:00Z"),
    );
    const routine = { value: new Date("2026-11-25T11:00:00Z"), coverage };
    expect(routineCoveredFrom(routine, { start: coverage.from, end: now })).toBeUndefined();
    expect(
      routineCoveredFrom(routine, { start: coverage.from, end: new Date("2026-11-25T11:00:00Z") }),
    ).toEqual(new Date("2026-11-24T10:00:00Z"));
  });

  it("keeps at most MAX_COVERAGE_WINDOWS windows, merging the oldest towards the later start", () => {
    let coverage: RoutineCoverage | undefined;
    for (let i = 0; i < MAX_COVERAGE_WINDOWS + 5; i++) {
      const window = { start: new Date(i * MINUTE), end: new Date((i + 1) * MINUTE) };
      coverage = extendCoverage(coverage, window, new Date(i === 2 ? 10 * DAY : 0));
    }
    expect(coverage?.windows).toHaveLength(MAX_COVERAGE_WINDOWS);
    expect(coverage?.from).toEqual(new Date(0));
    // The third window's late start survives the merge of the oldest ones.
    expect(coverage?.windows[0].timespanStart).toEqual(new Date(10 * DAY));
    // A window that does not follow on starts a new coverage.
    const gap = extendCoverage(
      coverage,
      { start: new Date(DAY), end: new Date(DAY + 1) },
      new Date(0),
    );
    expect(gap.from).toEqual(new Date(DAY));
    expect(gap.windows).toHaveLength(1);
  });
});
