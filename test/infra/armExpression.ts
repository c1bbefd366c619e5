// Evaluates the few ARM template functions a deployment-time choice compiles to (if, not, empty,
// equals, createObject, null, parameters, variables), so a test can ask what a resource looks like
// for a given parameter value. Anything else (reference, resourceId, format, ...) is left as its
// source text: a test compares it as written. Grammar and functions: learn.microsoft.com/azure/
// azure-resource-manager/templates/template-expressions and template-functions-logical.
import { isObject, type Json } from "./bicep";

/** Parameter and variable values the expressions read. */
export interface Scope {
  parameters: Record<string, Json>;
  variables?: Record<string, Json>;
}

type Token = { kind: "string" | "number" | "name" | "punct"; text: string; value?: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === "'") {
      let value = "";
      i += 1;
      while (i < source.length) {
        if (source[i] === "'" && source[i + 1] === "'") {
          value += "'";
          i += 2;
        } else if (source[i] === "'") {
          break;
        } else {
          value += source[i++];
        }
      }
      i += 1;
      tokens.push({ kind: "string", text: `'${value}'`, value });
    } else if (/[0-9-]/.test(c)) {
      const match = /^-?[0-9]+/.exec(source.slice(i));
      if (match === null) throw new Error(`bad number at ${source.slice(i)}`);
      tokens.push({ kind: "number", text: match[0] });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i));
      if (match === null) throw new Error(`bad name at ${source.slice(i)}`);
      tokens.push({ kind: "name", text: match[0] });
      i += match[0].length;
    } else if ("(),.[]".includes(c)) {
      tokens.push({ kind: "punct", text: c });
      i += 1;
    } else {
      throw new Error(`unexpected '${c}' in ${source}`);
    }
  }
  return tokens;
}

/** A parsed expression: evaluated on demand, so an if() evaluates only the branch it takes. */
interface Node {
  text: string;
  evaluate(scope: Scope): Json | undefined;
}

class Parser {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): Node {
    const node = this.expression();
    if (this.at !== this.tokens.length) throw new Error("trailing tokens");
    return node;
  }

  private peek(text: string): boolean {
    return this.tokens[this.at]?.text === text;
  }

  private take(text?: string): Token {
    const token = this.tokens[this.at++];
    if (token === undefined || (text !== undefined && token.text !== text)) {
      throw new Error(`expected ${text ?? "a token"}`);
    }
    return token;
  }

  private expression(): Node {
    let node = this.primary();
    for (;;) {
      if (this.peek(".")) {
        this.take(".");
        const name = this.take().text;
        const base = node;
        node = {
          text: `${base.text}.${name}`,
          evaluate: (scope) => {
            const value = base.evaluate(scope);
            return isObject(value) ? value[name] : `${text(value, base)}.${name}`;
          },
        };
      } else if (this.peek("[")) {
        this.take("[");
        const index = this.expression();
        this.take("]");
        const base = node;
        node = {
          text: `${base.text}[${index.text}]`,
          evaluate: (scope) => {
            const value = base.evaluate(scope);
            const key = index.evaluate(scope);
            if (isObject(value) && typeof key === "string") return value[key];
            if (Array.isArray(value) && typeof key === "number") return value[key];
            return `${text(value, base)}[${index.text}]`;
          },
        };
      } else {
        return node;
      }
    }
  }

  private primary(): Node {
    const token = this.take();
    if (token.kind === "string") return { text: token.text, evaluate: () => token.value ?? "" };
    if (token.kind === "number") return { text: token.text, evaluate: () => Number(token.text) };
    if (token.kind !== "name") throw new Error(`unexpected ${token.text}`);
    if (token.text === "true" || token.text === "false") {
      return { text: token.text, evaluate: () => token.text === "true" };
    }
    this.take("(");
    const args: Node[] = [];
    while (!this.peek(")")) {
      args.push(this.expression());
      if (!this.peek(")")) this.take(",");
    }
    this.take(")");
    const source = `${token.text}(${args.map((arg) => arg.text).join(", ")})`;
    return { text: source, evaluate: (scope) => call(token.text, args, scope, source) };
  }
}

function text(value: Json | undefined, node: Node): string {
  return typeof value === "string" ? value : node.text;
}

function call(name: string, args: Node[], scope: Scope, source: string): Json | undefined {
  const arg = (i: number) => args[i].evaluate(scope);
  switch (name) {
    case "parameters": {
      const key = arg(0);
      if (typeof key !== "string" || !(key in scope.parameters)) {
        throw new Error(`no value for ${source}`);
      }
      return scope.parameters[key];
    }
    case "variables": {
      const key = arg(0);
      const value = typeof key === "string" ? scope.variables?.[key] : undefined;
      return value === undefined ? source : evaluate(value, scope);
    }
    case "if":
      return arg(0) === true ? arg(1) : arg(2);
    case "not":
      return arg(0) !== true;
    case "equals":
      return JSON.stringify(arg(0)) === JSON.stringify(arg(1));
    case "empty": {
      const value = arg(0);
      if (value === null || value === "") return true;
      if (Array.isArray(value)) return value.length === 0;
      return isObject(value) ? Object.keys(value).length === 0 : false;
    }
    case "null":
      return null;
    case "createObject": {
      const entries: [string, Json][] = [];
      for (let i = 0; i < args.length; i += 2) {
        const key = arg(i);
        if (typeof key !== "string") throw new Error(`createObject key is not a string: ${source}`);
        entries.push([key, arg(i + 1) ?? null]);
      }
      return Object.fromEntries(entries);
    }
    default:
      return source;
  }
}

/** A template value with its ARM expressions evaluated, recursively. */
export function evaluate(value: Json | undefined, scope: Scope): Json | undefined {
  if (typeof value === "string") {
    if (!value.startsWith("[") || value.startsWith("[[") || !value.endsWith("]")) return value;
    return new Parser(tokenize(value.slice(1, -1))).parse().evaluate(scope);
  }
  if (Array.isArray(value)) return value.map((item) => evaluate(item, scope) ?? null);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, evaluate(item, scope) ?? null]),
    );
  }
  return value;
}
