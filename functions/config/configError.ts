/** Configuration that cannot run: every problem, each naming its setting and a valid value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    // One line per problem, so a log line or a terminal shows each setting on its own.
    super(`Invalid configuration: ${problems.join(" | ")}`);
    this.name = "ConfigError";
  }
}
