// Evaluates the few Workflow Definition Language expressions the playbooks use in values (a
// variable set from a response body, an Until condition, a comment text), with their documented
// meaning (learn.microsoft.com/azure/logic-apps/workflow-definition-language-functions-reference):
// - "@{...}" inside a string is string interpolation; a whole value "@expr" is the expression's value;
// - variables('name'), body('Action'), literals '...' ('' is a quote), integers, null;
// - x?['key'] and x?[0]: property and item access, null when absent (the ? operator);
// - coalesce(a, b, ...): the first non-null; empty(x): null, '' or an empty array or object;
//   not(b); if(c, a, b).
// Anything else throws, so a test never passes over an expression it did not understand.
import { isObject, type Json } from "./bicep";

/** What an expression can read: variables, the outputs body of each action that ran, the trigger's. */
export interface ExpressionScope {
  variable(name: string): Json | undefined;
  body(action: string): Json | undefined;
  triggerBody(): Json;
}

class Parser {
  private at = 0;

  constructor(
    private readonly source: string,
    private readonly scope: ExpressionScope,
  ) {}

  parseAll(): Json | null {
    const value = this.expression();
    this.space();
    if (this.at !== this.source.length) this.fail("unexpected text");
    return value;
  }

  private fail(what: string): never {
    throw new Error(`expression not simulated (${what} at ${this.at}): ${this.source}`);
  }

  private space(): void {
    while (this.source[this.at] === " ") this.at += 1;
  }

  private eat(token: string): boolean {
    this.space();
    if (this.source.startsWith(token, this.at)) {
      this.at += token.length;
      return true;
    }
    return false;
  }

  private expect(token: string): void {
    if (!this.eat(token)) this.fail(`expected ${token}`);
  }

  private expression(): Json | null {
    let value = this.primary();
    // Accessors: ?['key'], ?[0], ['key'], [0].
    for (;;) {
      const save = this.at;
      const optional = this.eat("?");
      if (!this.eat("[")) {
        this.at = save;
        return value;
      }
      const key = this.expression();
      this.expect("]");
      if (Array.isArray(value) && typeof key === "number") value = value[key] ?? null;
      else if (isObject(value) && typeof key === "string") value = value[key] ?? null;
      else if (value === null && optional) value = null;
      else this.fail("access on a value that has no such member");
    }
  }

  private primary(): Json | null {
    this.space();
    if (this.eat("'")) {
      let literal = "";
      for (;;) {
        const quote = this.source.indexOf("'", this.at);
        if (quote < 0) this.fail("unterminated string");
        literal += this.source.slice(this.at, quote);
        this.at = quote + 1;
        if (this.source[this.at] !== "'") return literal;
        literal += "'";
        this.at += 1;
      }
    }
    const number = /^\d+/.exec(this.source.slice(this.at));
    if (number) {
      this.at += number[0].length;
      return Number(number[0]);
    }
    const name = /^[A-Za-z]+/.exec(this.source.slice(this.at))?.[0];
    if (name === undefined) this.fail("expected a value");
    this.at += name.length;
    if (name === "null") return null;
    this.expect("(");
    const args: (Json | null)[] = [];
    if (!this.eat(")")) {
      do args.push(this.expression());
      while (this.eat(","));
      this.expect(")");
    }
    return this.call(name, args);
  }

  private name(arg: Json | null): string {
    if (typeof arg !== "string") this.fail("a name that is not a string");
    return arg;
  }

  private call(name: string, args: (Json | null)[]): Json | null {
    switch (name) {
      case "variables": {
        const variable = this.name(args[0]);
        return this.scope.variable(variable) ?? this.fail(`no variable ${variable}`);
      }
      case "body":
        return this.scope.body(this.name(args[0])) ?? null;
      case "triggerBody":
        return this.scope.triggerBody();
      case "coalesce":
        return args.find((arg) => arg !== null) ?? null;
      case "empty":
        return (
          args[0] === null ||
          args[0] === "" ||
          (Array.isArray(args[0]) && args[0].length === 0) ||
          (isObject(args[0]) && Object.keys(args[0]).length === 0)
        );
      case "not":
        if (typeof args[0] !== "boolean") this.fail("not() of a non-boolean");
        return !args[0];
      case "if":
        if (typeof args[0] !== "boolean") this.fail("if() on a non-boolean");
        return args[0] ? args[1] : args[2];
      default:
        return this.fail(`function ${name}`);
    }
  }
}

function asText(value: Json | null): string {
  if (value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * The value of a workflow value: a literal, "@expression", text with "@{...}" parts, or an object
 * or array of those.
 */
export function evaluateValue(value: Json, scope: ExpressionScope): Json | null {
  if (Array.isArray(value)) return value.map((item) => evaluateValue(item, scope));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, evaluateValue(item, scope)]),
    );
  }
  if (typeof value !== "string") return value;
  if (value.startsWith("@") && !value.startsWith("@{") && !value.startsWith("@@")) {
    return new Parser(value.slice(1), scope).parseAll();
  }
  let result = "";
  let rest = value;
  for (;;) {
    const start = rest.indexOf("@{");
    if (start < 0) return result + rest;
    result += rest.slice(0, start);
    // The expression ends at the brace that closes it; quoted text may hold braces.
    let depth = 0;
    let end = start + 2;
    let quoted = false;
    for (; end < rest.length; end += 1) {
      const c = rest[end];
      if (c === "'") quoted = !quoted;
      else if (!quoted && c === "{") depth += 1;
      else if (!quoted && c === "}") {
        if (depth === 0) break;
        depth -= 1;
      }
    }
    if (end >= rest.length) throw new Error(`unterminated @{ in ${value}`);
    result += asText(new Parser(rest.slice(start + 2, end), scope).parseAll());
    rest = rest.slice(end + 1);
  }
}
