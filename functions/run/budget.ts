/**
 * How much of its time a run has left. The host kills an invocation at `functionTimeout`
 * (host.json); a run that stops starting work before its budget ends finishes cleanly instead,
 * and what it did not get to waits, recorded, for the next run.
 *
 * The clock is the run's own (injected in tests), so tests move time instead of waiting for it.
 */
export class RunBudget {
  private readonly deadline: number;

  constructor(
    private readonly now: () => Date,
    readonly totalMs: number,
    startedAt: Date = now(),
  ) {
    this.deadline = startedAt.getTime() + totalMs;
  }

  /** Milliseconds left before the deadline (never negative). */
  remainingMs(): number {
    return Math.max(0, this.deadline - this.now().getTime());
  }

  /** True once less than `reserveMs` remains: start nothing that may take that long. */
  nearlySpent(reserveMs: number): boolean {
    return this.remainingMs() <= reserveMs;
  }

  /** A timeout for one call: its own limit, shortened so it ends before the deadline. */
  timeoutFor(limitMs: number, reserveMs = 0): number {
    return Math.max(1, Math.min(limitMs, this.remainingMs() - reserveMs));
  }
}

/** Time kept back at the end of a run for its closing writes (marks, watermark, lease). */
export const CLOSING_RESERVE_MS = 15_000;
