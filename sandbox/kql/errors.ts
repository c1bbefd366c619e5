// The two ways the local engine refuses a query. Both become the 400 the service gives for a bad
// query (logAnalyticsWire.apiErrors.semanticError), so a caller sees the same failure shape.

/** A construct outside the subset the local engine evaluates; its message names the construct. */
export class KqlUnsupportedError extends Error {
  constructor(readonly construct: string) {
    super(`The local KQL engine (sandbox) does not support ${construct}`);
    this.name = "KqlUnsupportedError";
  }
}

/** A query the service would also reject while running it (a bad argument, a bad conversion). */
export class KqlRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KqlRuntimeError";
  }
}
