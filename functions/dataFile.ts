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

/** Parses JSON; throws DataFileError `source:line:col: message`. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    // V8 says where: "... in JSON at position 123" (Node 20; Node 22 adds the line and column).
    const position = /at position (\d+)/.exec(error.message)?.[1];
    const at = position === undefined ? { line: 1, col: 1 } : lineCol(text, Number(position));
    const message = firstLine(error.message).replace(/ in JSON at position \d+.*$/, "");
    throw new DataFileError(`${source}:${at.line}:${at.col}: ${message}`);
  }
}
