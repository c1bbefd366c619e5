import { DataFileError, jsonErrorOffset, parseJsonText } from "../functions/dataFile";

describe("parseJsonText: a JSON syntax error is one line, file:line:col: message", () => {
  it.each([
    ['{\n  "a": [1,]\n}', "f.json:2:11: Unexpected token ']'"],
    ['{ "a": b }', "f.json:1:8: Unexpected token 'b'"],
    ['{ "a": [', "f.json:1:9: Unexpected end of JSON input"],
    ['{"a":1}}', "f.json:1:8: Unexpected non-whitespace character after JSON"],
    ["[1 2]", "f.json:1:4: Expected ',' or ']' after array element"],
    ['{"a" 1}', "f.json:1:6: Expected ':' after property name"],
    ["", "f.json:1:1: Unexpected end of JSON input"],
  ])("%p", (text, line) => {
    expect(() => parseJsonText(text, "f.json")).toThrow(new DataFileError(line));
  });

  it("finds the place V8 names, wherever V8 names one", () => {
    for (const text of [
      '{"a":1}}',
      "[1 2]",
      '{"a" 1}',
      '{"a":1,}',
      '["\\x"]',
      "[01]",
      "[-]",
      "[1.]",
      "[1e]",
      "[1e+x]",
    ]) {
      let position: number | undefined;
      try {
        JSON.parse(text);
      } catch (error) {
        const named = /at position (\d+)/.exec((error as Error).message)?.[1];
        position = named === undefined ? undefined : Number(named);
      }
      if (position !== undefined) expect([text, jsonErrorOffset(text)]).toEqual([text, position]);
    }
  });

  it("has no error offset for valid JSON, and gives none rather than overflow on deep nesting", () => {
    expect(jsonErrorOffset('{"a":[1,-2.5e3,true,null,"\\u00e9\\n"],"b":{}}')).toBeUndefined();
    expect(jsonErrorOffset("[".repeat(200_000))).toBeUndefined();
  });
});
