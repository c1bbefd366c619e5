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
    // The catch-up pass, a part at a time, as the runs after this one would take it.
    const catchUps: QueryPlan[] = [];
    let caughtUp = catchUpWatermark;
    for (let plan; (plan = catchUpPlan(now, caughtUp, watermark, coverage));) {
      catchUps.push(plan);
      caughtUp = plan.window.end;
    }
    return { read, catchUps, caughtUp, now };
  }

  function catchUpPlan(
    now: Date,
    watermark: Date,
    routine: Date | undefined,
    coverage: RoutineCoverage | undefined,
  ): QueryPlan | undefined {
    return planQuery({
      ...settings,
      pass: "catchup",
      now,
      watermark,
      routine: { value: routine, coverage },
    });
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

  /** Events ingested before the catch-up's watermark that neither pass read. */
  function missedByBoth(all: Event[], read: Set<Event>, plans: QueryPlan[], until: Date): Event[] {
    const inPlan = (e: Event, plan: QueryPlan): boolean =>
      e.ingested >= plan.window.start.getTime() &&
      e.ingested < plan.window.end.getTime() &&
      e.generated >= plan.timespan.startTime.getTime() &&
      e.generated < plan.timespan.endTime.getTime();
    return all.filter(
      (e) => !read.has(e) && e.ingested < until.getTime() && !plans.some((p) => inPlan(e, p)),
    );
  }

  /** Events a set of plans reads that the routine pass had read already. */
  function readTwice(all: Event[], read: Set<Event>, plans: QueryPlan[]): number {
    return all.filter(
      (e) =>
        read.has(e) &&
        plans.some(
          (p) =>
            e.ingested >= p.window.start.getTime() &&
            e.ingested < p.window.end.getTime() &&
            e.generated >= p.timespan.startTime.getTime() &&
            e.generated < p.timespan.endTime.getTime(),
        ),
    ).length;
  }

  it("misses no late event when MAX_INGESTION_DELAY grows between runs, and reads far less", () => {
    const all = events(4000, 3, 18);
    // An hour with a one-hour delay, then a day: the later windows' timespans reach further
    // back, the earlier ones' do not, and the catch-up must follow the earlier ones.
    const grows = simulate(all, 3, (run) => (run < 12 ? HOUR : DAY));
    // It caught up with the routine pass, in two parts (the timespans differ by a day).
    expect(grows.catchUps).toHaveLength(2);
    expect(missedByBoth(all, grows.read, grows.catchUps, grows.caughtUp)).toEqual([]);
    // The first part is the first hour's: its windows read from an hour before themselves, the
    // last one 53 minutes in; the catch-up reads to a minute past that (COVERED_MARGIN_MS).
    expect(grows.catchUps[0].timespan.endTime.getTime()).toBe(
      start.getTime() + 53 * MINUTE - HOUR + MINUTE,
    );
    // Reading the whole lookback (as before) would read again every event the routine pass read.
    const whole = grows.catchUps.map((p) => ({
      ...p,
      timespan: { ...p.timespan, endTime: new Date(grows.now.getTime() + DAY) },
    }));
    expect(readTwice(all, grows.read, grows.catchUps)).toBeLessThan(
      readTwice(all, grows.read, whole) / 10,
    );
  });

  it("misses no late event when MAX_INGESTION_DELAY shrinks, nor when it stays", () => {
    const all = events(4000, 3, 7);
    for (const delayAt of [(run: number) => (run < 12 ? DAY : 10 * MINUTE), () => DAY]) {
      const sim = simulate(all, 3, delayAt);
      expect(sim.catchUps.length).toBeGreaterThan(0);
      expect(missedByBoth(all, sim.read, sim.catchUps, sim.caughtUp)).toEqual([]);
    }
  });

  it("a bound taken from today's setting would lose events (the test can fail)", () => {
    const all = events(4000, 3, 18);
    const grows = simulate(all, 3, (run) => (run < 12 ? HOUR : DAY));
    // One part, its bound a day (today's MAX_INGESTION_DELAY) before the last window:
    const [first] = grows.catchUps;
    const naive = {
      ...first,
      window: { start: first.window.start, end: grows.caughtUp },
      timespan: { ...first.timespan, endTime: new Date(grows.now.getTime() - DAY) },
    };
    expect(missedByBoth(all, grows.read, [naive], grows.caughtUp).length).toBeGreaterThan(0);
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
