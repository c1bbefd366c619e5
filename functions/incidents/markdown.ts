// Neutralising attacker-controlled strings (command lines, paths, file, account and device names)
// before they go into Markdown that Sentinel renders, and into plain-text titles.
//
// No Markdown-escaping library is a dependency of this project (escape-html and friends are only
// transitive, and handle HTML, not Markdown), so this is a small escaper. Per input code point:
//   - line breaks (CR, LF, CRLF, VT, FF, NEL, U+2028/2029) become "⏎", a tab becomes a space, so a
//     value can never start a new block or break a table row;
//   - other control characters and lone surrogates become U+FFFD; bidirectional overrides and
//     zero-width characters (which can disguise a command line) become a visible ⟨U+XXXX⟩;
//   - links are defanged, so no renderer turns them into links: "://" -> "[:]//", "www." ->
//     "www[.]", "@" -> "[@]" (e-mail autolinks), and javascript:/vbscript:/data:/file:/mailto:/
//     xmpp: -> "scheme[:]";
//   - & < > become HTML entities (&amp; &lt; &gt;): no raw HTML, and entity text stays literal;
//   - Markdown punctuation \ ` * _ { } [ ] ( ) # + - . ! | ~ ^ $ = is backslash-escaped
//     (CommonMark lets any ASCII punctuation be escaped), which also escapes | for GFM tables.
// Truncation works on whole escaped tokens, so a cut never splits an escape, entity or surrogate
// pair, and the result (including the closing "…") is never longer than the limit.

/** Marks a value that was cut to fit. */
export const ELLIPSIS = "…";

const MARKDOWN_PUNCTUATION = new Set("\\`*_{}[]()#+-.!|~^$=");
const HTML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };
const LINE_BREAK = /^(\r\n|[\r\n\v\f\u0085\u2028\u2029])/;
// Bidi embeddings/overrides/isolates, marks, and zero-width characters.
const INVISIBLE = /^[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /^[\u0000-\u0008\u000e-\u001f\u007f-\u009f]$/;
const DEFANG_SCHEMES = /^(javascript|vbscript|data|file|mailto|xmpp):/i;

type Token = { raw: number; text: string };

/** The neutralised token at `start`: how many input units it covers and what they read as. */
function nextToken(text: string, start: number): Token | undefined {
  if (start >= text.length) return undefined;
  const rest = text.slice(start, start + 16);
  const lineBreak = LINE_BREAK.exec(rest);
  if (lineBreak) return { raw: lineBreak[0].length, text: "⏎" };
  if (rest.startsWith("://")) return { raw: 3, text: "[:]//" };
  if (/^www\./i.test(rest)) return { raw: 4, text: `${rest.slice(0, 3)}[.]` };
  // Defanged wherever they occur, even inside a word: simpler to reason about than boundaries.
  const scheme = DEFANG_SCHEMES.exec(rest);
  if (scheme) return { raw: scheme[0].length, text: `${scheme[1]}[:]` };
  const codePoint = text.codePointAt(start) ?? 0;
  const char = String.fromCodePoint(codePoint);
  const raw = char.length;
  if (char === "@") return { raw, text: "[@]" };
  if (char === "\t") return { raw, text: " " };
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return { raw, text: "\ufffd" };
  if (CONTROL.test(char)) return { raw, text: "\ufffd" };
  if (INVISIBLE.test(char)) {
    return { raw, text: `⟨U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}⟩` };
  }
  return { raw, text: char };
}

function escapeToken(text: string): string {
  let out = "";
  for (const char of text) {
    out += HTML_ENTITIES[char] ?? (MARKDOWN_PUNCTUATION.has(char) ? `\\${char}` : char);
  }
  return out;
}

function render(text: string, maxLength: number, transform: (token: string) => string): string {
  const limit = Math.max(1, Math.floor(maxLength));
  const pieces: string[] = [];
  let length = 0;
  for (let at = 0; ;) {
    const token = nextToken(text, at);
    if (token === undefined) return pieces.join("");
    const piece = transform(token.text);
    if (length + piece.length > limit) break;
    pieces.push(piece);
    length += piece.length;
    at += token.raw;
  }
  // Over the limit: back off until the ellipsis fits too.
  while (pieces.length > 0 && length + ELLIPSIS.length > limit) {
    length -= pieces.pop()?.length ?? 0;
  }
  return pieces.join("") + ELLIPSIS;
}

/**
 * escapeMarkdown's definition, one token at a time; escapeMarkdown computes the same faster, and
 * the tests hold the two equal.
 */
export function escapeMarkdownByToken(text: string, maxLength = Number.POSITIVE_INFINITY): string {
  return render(text, maxLength, escapeToken);
}

// Everything nextToken or escapeToken would change, as one pattern, in nextToken's order of
// precedence: a valid surrogate pair is matched whole, so only lone surrogates hit the class.
// Every other character stands for itself, and escaping leaves it as it is.
const SPECIAL =
  // eslint-disable-next-line no-control-regex
  /\r\n|[\r\n\v\f\u0085\u2028\u2029]|:\/\/|www\.|(?:javascript|vbscript|data|file|mailto|xmpp):|[\ud800-\udbff][\udc00-\udfff]|[@\t\u0000-\u0008\u000e-\u001f\u007f-\u009f\ud800-\udfff\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff&<>\\`*_{}[\]()#+\-.!|~^$=]/gi;

/** Escapes an untrusted string for Markdown inline text or a table cell, at most maxLength long. */
export function escapeMarkdown(text: string, maxLength = Number.POSITIVE_INFINITY): string {
  // The same tokens and escapes as render(text, maxLength, escapeToken), found by one regular
  // expression instead of one character at a time: runs of ordinary characters are copied whole.
  // This is the hottest code of building an incident (every value of every row goes through it).
  const limit = Math.max(1, Math.floor(maxLength));
  let out = "";
  let lastPiece = 0;
  let at = 0;
  SPECIAL.lastIndex = 0;
  for (;;) {
    const match = SPECIAL.exec(text);
    const plainEnd = match ? match.index : text.length;
    if (plainEnd > at) {
      // Each ordinary character is a token of its own, one unit long.
      const room = limit - out.length;
      if (plainEnd - at > room) {
        out += text.slice(at, at + room);
        if (room > 0) lastPiece = 1;
        break;
      }
      out += text.slice(at, plainEnd);
      lastPiece = 1;
    }
    if (!match) return out;
    const piece = escapeToken(tokenText(match[0]));
    if (out.length + piece.length > limit) break;
    out += piece;
    lastPiece = piece.length;
    at = SPECIAL.lastIndex;
  }
  // Over the limit: drop the last whole token if the ellipsis would not fit otherwise.
  if (out.length > 0 && out.length + ELLIPSIS.length > limit) {
    out = out.slice(0, out.length - lastPiece);
  }
  return out + ELLIPSIS;
}

/** What a token SPECIAL matched reads as (nextToken's rules for that token). */
function tokenText(token: string): string {
  if (token.length > 1) {
    if (token === "\r\n") return "⏎";
    if (token === "://") return "[:]//";
    if (token.endsWith(".")) return `${token.slice(0, 3)}[.]`;
    if (token.endsWith(":")) return `${token.slice(0, -1)}[:]`;
    return token; // a surrogate pair
  }
  return nextToken(token, 0)?.text ?? token;
}

// Plain text: letters, marks, digits, spaces and the punctuation names use, plus [ ] : / @ (kept
// in plainText, for paths and defanged links: "http[:]//", "[@]"); the rest becomes "?".
const PLAIN_ALLOWED = /^[\p{L}\p{M}\p{N} ._\\$'-]$/u;

/** Neutralises an untrusted string for a plain-text field (a title): no markup, links or breaks. */
export function plainText(text: string, maxLength = Number.POSITIVE_INFINITY): string {
  return render(text, maxLength, (token) =>
    token === "⏎"
      ? " "
      : Array.from(token)
          .map((char) => (PLAIN_ALLOWED.test(char) || "[]:/@".includes(char) ? char : "?"))
          .join(""),
  )
    .replace(/\s+/g, " ")
    .trim();
}

// No parentheses or spaces, which would end the link target early.
const SAFE_URL = /^https:\/\/[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]+$/;

/** A Markdown link to a trusted https URL; any other URL is shown as escaped text instead. */
export function markdownLink(text: string, url: string, maxTextLength = 200): string {
  const label = escapeMarkdown(text, maxTextLength);
  return SAFE_URL.test(url) ? `[${label}](${url})` : `${label} (${escapeMarkdown(url, 300)})`;
}
