// Reading a person's data file (exclusions, sample events): a syntax error becomes one line in
// the form editors and compilers use, `file:line:col: message`, not a parser's multi-line excerpt
// with a caret or a stack trace.
import { parse as parseYaml, YAMLParseError } from "yaml";

/** A data file that cannot be read as JSON or YAML: its message is the one line to print. */
export class DataFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataFileError";
  }
}

/** The first line of a parser's message, without the location it also spells out. */
function firstLine(message: string): string {
  const line = message.split("\n")[0].trim();
  return line.replace(/\s*at line \d+, column \d+:?$/, "").replace(/:$/, "");
}

/** Parses YAML (JSON is YAML too); throws DataFileError `source:line:col: message`. */
export function parseYamlText(text: string, source: string): unknown {
  try {
    return parseYaml(text);
  } catch (error) {
    if (!(error instanceof YAMLParseError)) throw error;
    const at = error.linePos?.[0];
    const where = at ? `${source}:${at.line}:${at.col}` : source;
    throw new DataFileError(`${where}: ${firstLine(error.message)}`);
  }
}

/** Line and column (both from 1) of a character offset. */
function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, offset)).split("\n");
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

/**
 * Where JSON text stops being JSON: the offset of the first character the grammar (RFC 8259)
 * does not allow there, the text's length when it ends too soon; undefined for valid text or
 * nesting too deep to walk. Node 20's JSON.parse says where only for some errors ("Unexpected
 * token 'b', ... is not valid JSON" has no position), so the position is found here.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw new JsonStop(i);
  };
  const space = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const string = (): void => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c < " ") fail();
      if (c === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
          continue;
        }
        if (i >= text.length || !'"\\/bfnrt'.includes(text[i])) fail();
      }
      i++;
    }
    fail();
  };
  const digits = (): void => {
    if (!(text[i] >= "0" && text[i] <= "9")) fail();
    while (text[i] >= "0" && text[i] <= "9") i++;
  };
  // -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?, stopping where a digit is missing.
  const number = (): void => {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else digits();
    if (text[i] === ".") {
      i++;
      digits();
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      digits();
    }
  };
  const items = (close: string, item: () => void): void => {
    i++;
    space();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      if (text[i] !== ",") fail();
      i++;
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === "{") {
      items("}", () => {
        space();
        if (text[i] !== '"') fail();
        string();
        space();
        if (text[i] !== ":") fail();
        i++;
        value();
      });
    } else if (c === "[") {
      items("]", value);
    } else if (c === '"') {
      string();
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      number();
    } else {
      const word = /^(true|false|null)/.exec(text.slice(i));
      if (!word) fail();
      i += (word as RegExpExecArray)[0].length;
    }
  };
  try {
    value();
    space();
    return i < text.length ? i : undefined;
  } catch (error) {
    if (error instanceof JsonStop) return error.offset;
    // Nesting deeper than the stack: no position to give.
    return undefined;
  }
}

/** Ends the scan at the first character the grammar does not allow. */
class JsonStop extends Error {
  constructor(readonly offset: number) {
    super(`not JSON from offset ${offset}`);
  }
}

/** Parses JSON; throws DataFileError `source:line:col: message`. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    // V8 says where for some errors only ("... in JSON at position 123"); the scan says for all.
    const position = /at position (\d+)/.exec(error.message)?.[1];
    const offset = position === undefined ? jsonErrorOffset(text) : Number(position);
    const at = lineCol(text, offset ?? 0);
    const message = firstLine(error.message)
      .replace(/ at position \d+.*$/, "")
      .replace(/ in JSON$/, "")
      // Node 20 quotes the whole text after the token; the location already says where.
      .replace(/, ".*" is not valid JSON$/s, "")
      .replace(/, (\.\.\.)?".*$/s, "");
    throw new DataFileError(`${source}:${at.line}:${at.col}: ${message}`);
  }
}
