import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
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

// One Ajv instance, made on first use: compiling is the expensive part, and a function app pays
// for whatever its entry module does at load (cold start) before the first run can begin.
let ajv: Ajv | undefined;

function sharedAjv(): Ajv {
  if (ajv === undefined) {
    ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
  }
  return ajv;
}

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

/**
 * A checker for a JSON Schema that returns the typed value or throws every problem. The schema is
 * compiled on the first check, not at module load: modules declare their checkers at top level.
 */
export function compileSchema<T>(
  schema: object,
  what: string,
): (value: unknown, source?: string) => T {
  let validate: ValidateFunction | undefined;
  return (value: unknown, source?: string): T => {
    validate ??= sharedAjv().compile(schema);
    if (validate(value)) return value as T;
    const label = source ? `${what} (${source})` : what;
    const errors = validate.errors ?? [];
    // An if/then branch that failed is already reported by the error inside it; ajv adds a
    // "must match then schema" line on top that only repeats it.
    const precise = errors.filter((e) => e.keyword !== "if");
    throw new SchemaValidationError(label, (precise.length > 0 ? precise : errors).map(describe));
  };
}
