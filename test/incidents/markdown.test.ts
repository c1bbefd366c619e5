import { escapeMarkdown, escapeMarkdownByToken } from "../../functions/incidents/markdown";

// escapeMarkdown finds tokens with one regular expression; escapeMarkdownByToken is the
// definition, one token at a time. They must agree on every input and every limit.

/** Pieces that exercise every rule: breaks, links, schemes, entities, punctuation, invisibles, surrogates. */
const PIECES = [
  "a",
  "Z",
  "é",
  "7",
  " ",
  "\t",
  "\r",
  "\n",
  "\r\n",
  "\v",
  "\u0085",
  "\u2028",
  ":",
  "/",
  "://",
  "www.",
  "WwW.",
  "w",
  ".",
  "@",
  "&",
  "<",
  ">",
  "|",
  "\\",
  "*",
  "_",
  "[",
  "]",
  "(",
  "#",
  "-",
  "=",
  "javascript:",
  "JavaScript:",
  "data:",
  "mailto:",
  "xmpp",
  "file",
  "\u0000",
  "\u007f",
  "\u009f",
  "\u200b",
  "\u202e",
  "\u2066",
  "\ufeff",
  "\ud83d\ude00",
  "\ud83d",
  "\ude00",
  "…",
  "⏎",
];

/** A small deterministic generator (mulberry32), so a failure names an input that repeats. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("escapeMarkdown", () => {
  it("equals the token-by-token definition on random inputs, at every limit", () => {
    const next = random(10);
    const limits = [1, 2, 3, 4, 5, 8, 13, 21, 40, Number.POSITIVE_INFINITY];
    let compared = 0;
    const differing: [string, number, string, string][] = [];
    for (let i = 0; i < 4000; i += 1) {
      const length = Math.floor(next() * 24);
      const text = Array.from({ length }, () => PIECES[Math.floor(next() * PIECES.length)]).join(
        "",
      );
      for (const limit of limits) {
        const fast = escapeMarkdown(text, limit);
        const reference = escapeMarkdownByToken(text, limit);
        if (fast !== reference) differing.push([text, limit, fast, reference]);
        compared += 1;
      }
    }
    expect(differing.slice(0, 5)).toEqual([]);
    expect(compared).toBe(40_000);
  });

  it("escapes, defangs and cuts as documented", () => {
    expect(escapeMarkdown("see https://evil.example/x|y")).toBe(
      "see https\\[:\\]//evil\\.example/x\\|y",
    );
    expect(escapeMarkdown("a\r\nb\tc")).toBe("a⏎b c");
    expect(escapeMarkdown("<b>&</b>")).toBe("&lt;b&gt;&amp;&lt;/b&gt;");
    expect(escapeMarkdown("abcdef", 4)).toBe("abc…");
    expect(escapeMarkdown("ab*cd", 4)).toBe("ab…");
  });
});
