import Ajv, { type ErrorObject } from "ajv";
import addFormats from "ajv-formats";

/** A document (configuration, rule file, payload) that does not fit its JSON Schema. */
export class SchemaValidationError extends Error {
  constructor(
    readonly what: string,
    readonly problems: string[],
  ) {
    super(`${what} is invalid:\n  - ${problems.join("\n  - ")}`);
    this.name = "SchemaValidationError";
  }
}

// One Ajv instance: compiling is the expensive part, and every schema here is static.
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);

function describe(error: ErrorObject): string {
  const where = error.instancePath === "" ? "(document)" : error.instancePath;
  const extra =
    error.keyword === "additionalProperties"
      ? ` '${String((error.params as { additionalProperty: string }).additionalProperty)}'`
      : error.keyword === "enum"
        ? ` (${(error.params as { allowedValues: unknown[] }).allowedValues.map(String).join(", ")})`
        : "";
  return `${where} ${error.message ?? "is invalid"}${extra}`;
}

/** Compiles a JSON Schema into a checker that returns the typed value or throws every problem. */
export function compileSchema<T>(
  schema: object,
  what: string,
): (value: unknown, source?: string) => T {
  const validate = ajv.compile(schema);
  return (value: unknown, source?: string): T => {
    if (validate(value)) return value as T;
    const label = source ? `${what} (${source})` : what;
    const errors = validate.errors ?? [];
    // An if/then branch that failed is already reported by the error inside it; ajv adds a
    // "must match then schema" line on top that only repeats it.
    const precise = errors.filter((e) => e.keyword !== "if");
    throw new SchemaValidationError(label, (precise.length > 0 ? precise : errors).map(describe));
  };
}
