/** An error that lists what is wrong, one line per problem. */
interface ProblemList {
  problems: readonly string[];
}

/** Runs `act`, which must throw an error of `kind`; returns that error's problem lines. */
export function problemsOf<E extends Error & ProblemList>(
  kind: abstract new (...args: never[]) => E,
  act: () => unknown,
): string[] {
  try {
    act();
  } catch (error) {
    if (error instanceof kind) return [...error.problems];
    throw error;
  }
  throw new Error(`expected a ${kind.name}`);
}
