// Runs a Logic Apps workflow definition's actions against scripted HTTP outcomes, with the
// documented run semantics, so tests can ask what the playbook answers in each situation:
// - an action runs when every predecessor in its runAfter ended in one of the listed statuses,
//   otherwise it is Skipped (and so is everything inside it);
// - an If runs its `actions` when the expression is true, else its `else.actions`; the actions of
//   the branch that does not run are Skipped;
// - an If fails when an action inside it fails or times out, and succeeds otherwise;
// - an HTTP action fails on a 4xx or 5xx answer, with the status code in its outputs; so does a
//   connector call (ApiConnection), whose outcome is scripted the same way;
// - a Wait (delay) and a Select succeed; a Wait moves the run's clock on by its interval;
// - InitializeVariable and SetVariable set variables, their values evaluated (workflowExpression.ts);
// - an Until runs its actions, then tests its expression, again until the expression is true, or
//   `limit.count` rounds ran (then it succeeds), or the clock passed `limit.timeout` since the
//   Until began (then it ends TimedOut); inside, each round runs the actions afresh;
// - a Terminate ends the run: nothing after it runs.
// Only the action types and the expression the playbook uses are understood; anything else
// throws, so a new one cannot slip past these tests unevaluated.
import { isoDurationMs } from "../../functions/config/duration";
import { isObject, text, type Json, type JsonObject } from "./bicep";
import { evaluateValue } from "./workflowExpression";

type Status = "Succeeded" | "Failed" | "TimedOut" | "Skipped";

/**
 * What the service does with one HTTP or connector call: answer with a status code (and a body,
 * which expressions may read), or not in time.
 */
export type HttpOutcome = { statusCode: number; body?: Json } | "timeout";

interface Run {
  /** HTTP and connector actions in the order they ran. */
  calls: string[];
  /** Status codes of the Response actions that ran, in order. */
  responses: number[];
  /** The evaluated request body of each connector call, in order. */
  sent: { action: string; body: Json }[];
  /** Minutes the run's Waits took in all. */
  waitedMinutes: number;
}

interface ActionRecord {
  status: Status;
  outputs?: { statusCode: number; body?: Json };
}

const MINUTES: Record<string, number> = { Second: 1 / 60, Minute: 1, Hour: 60, Day: 1440 };

class Simulation {
  readonly calls: string[] = [];
  readonly responses: number[] = [];
  readonly sent: { action: string; body: Json }[] = [];
  minutes = 0;
  private readonly records = new Map<string, ActionRecord>();
  private readonly variables = new Map<string, Json>();
  private readonly scope = {
    variable: (name: string) => this.variables.get(name),
    body: (action: string) => this.records.get(action)?.outputs?.body,
    triggerBody: () => this.trigger,
  };
  private terminated = false;

  constructor(
    private readonly http: (action: string) => HttpOutcome,
    private readonly trigger: Json,
  ) {}

  /** Runs one level of actions (the definition's, or a branch's) to completion. */
  runLevel(actions: JsonObject): Status[] {
    const pending = new Map(
      Object.entries(actions).map(([name, action]) => {
        if (!isObject(action)) throw new Error(`action ${name} is not an object`);
        return [name, action] as const;
      }),
    );
    const ended: Status[] = [];
    while (pending.size > 0 && !this.terminated) {
      const ready = [...pending].find(([, action]) =>
        Object.keys(runAfter(action)).every((predecessor) => this.records.has(predecessor)),
      );
      if (ready === undefined) {
        throw new Error(
          `runAfter cycle or unknown predecessor among ${[...pending.keys()].join(", ")}`,
        );
      }
      const [name, action] = ready;
      pending.delete(name);
      const runs = Object.entries(runAfter(action)).every(([predecessor, allowed]) =>
        allowed.includes(this.status(predecessor)),
      );
      const status = runs ? this.execute(name, action) : this.skip(name, action);
      ended.push(status);
    }
    return ended;
  }

  private status(name: string): Status {
    const found = this.records.get(name);
    if (found === undefined) throw new Error(`${name} has not run`);
    return found.status;
  }

  private skip(name: string, action: JsonObject): Status {
    this.records.set(name, { status: "Skipped" });
    for (const inner of nestedLevels(action)) {
      for (const [innerName, innerAction] of Object.entries(inner)) {
        if (isObject(innerAction)) this.skip(innerName, innerAction);
      }
    }
    return "Skipped";
  }

  private execute(name: string, action: JsonObject): Status {
    const type = text(action.type);
    const inputs = isObject(action.inputs) ? action.inputs : {};
    switch (type) {
      case "Http":
      case "ApiConnection": {
        this.calls.push(name);
        if (type === "ApiConnection") {
          this.sent.push({ action: name, body: this.evaluated(inputs.body ?? null) });
        }
        const outcome = this.http(name);
        if (outcome === "timeout") return this.record(name, { status: "TimedOut" });
        const failed = outcome.statusCode >= 400;
        return this.record(name, {
          status: failed ? "Failed" : "Succeeded",
          outputs: { statusCode: outcome.statusCode, body: outcome.body ?? null },
        });
      }
      case "Response": {
        if (typeof inputs.statusCode !== "number") throw new Error(`${name} has no status code`);
        if (this.responses.length > 0)
          throw new Error(`${name} answers a request already answered`);
        this.responses.push(inputs.statusCode);
        return this.record(name, { status: "Succeeded" });
      }
      case "Select":
        return this.record(name, { status: "Succeeded" });
      case "Wait": {
        const interval = isObject(inputs.interval) ? inputs.interval : {};
        const perUnit = MINUTES[text(interval.unit)];
        if (typeof interval.count !== "number" || perUnit === undefined) {
          throw new Error(`${name}: wait interval not simulated`);
        }
        this.minutes += interval.count * perUnit;
        return this.record(name, { status: "Succeeded" });
      }
      case "InitializeVariable": {
        const declared = Array.isArray(inputs.variables) ? inputs.variables : [];
        for (const variable of declared) {
          if (!isObject(variable)) throw new Error(`${name}: variable not an object`);
          this.variables.set(text(variable.name), this.evaluated(variable.value ?? null));
        }
        return this.record(name, { status: "Succeeded" });
      }
      case "SetVariable": {
        const variable = text(inputs.name);
        if (!this.variables.has(variable))
          throw new Error(`${name}: ${variable} is not initialized`);
        this.variables.set(variable, this.evaluated(inputs.value ?? null));
        return this.record(name, { status: "Succeeded" });
      }
      case "Until":
        return this.record(name, { status: this.until(action) });
      case "Terminate":
        this.terminated = true;
        return this.record(name, { status: "Succeeded" });
      case "If": {
        const taken = this.evaluate(text(action.expression));
        const branch = taken ? levelOf(action) : levelOf(action.else);
        const other = taken ? levelOf(action.else) : levelOf(action);
        for (const [innerName, innerAction] of Object.entries(other)) {
          if (isObject(innerAction)) this.skip(innerName, innerAction);
        }
        return this.record(name, { status: containerStatus(this.runLevel(branch)) });
      }
      default:
        throw new Error(`${name}: action type ${type} is not simulated`);
    }
  }

  private until(action: JsonObject): Status {
    const limit = isObject(action.limit) ? action.limit : {};
    const count = limit.count;
    const timeoutMs = isoDurationMs(text(limit.timeout));
    // Both bounds are required here: the playbooks never rely on the service's defaults.
    if (typeof count !== "number" || timeoutMs === undefined) {
      throw new Error("Until without limit.count and limit.timeout");
    }
    const started = this.minutes;
    for (let round = 1; ; round += 1) {
      const inner = levelOf(action);
      for (const innerName of Object.keys(inner)) this.records.delete(innerName);
      const ended = this.runLevel(inner);
      if (this.evaluated(text(action.expression)) === true) return containerStatus(ended);
      if ((this.minutes - started) * 60_000 >= timeoutMs) return "TimedOut";
      if (round >= count) return containerStatus(ended);
    }
  }

  private evaluated(value: Json): Json {
    return evaluateValue(value, this.scope);
  }

  private record(name: string, entry: ActionRecord): Status {
    this.records.set(name, entry);
    return entry.status;
  }

  /** The playbook's one expression form: an action's status code compared with a number. */
  private evaluate(expression: string): boolean {
    const match = /^@equals\(actions\('([^']+)'\)\?\['outputs'\]\?\['statusCode'\], (\d+)\)$/.exec(
      expression,
    );
    if (match === null) throw new Error(`expression not simulated: ${expression}`);
    return this.records.get(match[1])?.outputs?.statusCode === Number(match[2]);
  }
}

function runAfter(action: JsonObject): { [predecessor: string]: Json[] } {
  const value = action.runAfter;
  if (!isObject(value)) return {};
  return Object.fromEntries(
    Object.entries(value).map(([name, statuses]) => [
      name,
      Array.isArray(statuses) ? statuses : [],
    ]),
  );
}

function levelOf(container: Json | undefined): JsonObject {
  const actions = isObject(container) ? container.actions : undefined;
  return isObject(actions) ? actions : {};
}

function nestedLevels(action: JsonObject): JsonObject[] {
  return [levelOf(action), levelOf(action.else)];
}

function containerStatus(ended: Status[]): Status {
  return ended.some((status) => status === "Failed" || status === "TimedOut")
    ? "Failed"
    : "Succeeded";
}

/**
 * Runs the definition's actions; `http` scripts the answer to each HTTP or connector action by
 * name; `trigger` is the trigger's body, as expressions read it (triggerBody()).
 */
export function simulate(
  actions: JsonObject,
  http: (action: string) => HttpOutcome,
  trigger: Json = null,
): Run {
  const simulation = new Simulation(http, trigger);
  simulation.runLevel(actions);
  return {
    calls: simulation.calls,
    responses: simulation.responses,
    sent: simulation.sent,
    waitedMinutes: simulation.minutes,
  };
}
