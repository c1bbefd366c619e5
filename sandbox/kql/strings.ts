import { RE2JS } from "re2js";
import { KqlRuntimeError } from "./errors";

// String predicates, as learn.microsoft.com/kusto/query/datatypes-string-operators documents them.
// Operators without `_cs` ignore case; the engine compares ordinally (.NET OrdinalIgnoreCase,
// which folds to upper case), so `=~` here folds with toUpperCase.
//
// Terms (same page, "What is a term?"): a string is broken into maximal sequences of alphanumeric
// characters, each a term. `has` is true when the right side is a whole term of the left side;
// when the right side itself spans several terms ("nbtscan.exe"), it must appear with term
// boundaries at both ends. `hasprefix`/`hassuffix` need the boundary only at the start/end.
// Alphanumeric means a Unicode letter or digit. The engine's term index skips terms shorter than
// three characters, but that only changes speed (it then scans); the answer is the same.

/** Case folding for the case-insensitive operators. */
export function fold(text: string): string {
  return text.toUpperCase();
}

const ALNUM = /[\p{L}\p{N}]/u;

function isAlnumAt(text: string, index: number): boolean {
  if (index < 0 || index >= text.length) return false;
  const code = text.codePointAt(index);
  return code !== undefined && ALNUM.test(String.fromCodePoint(code));
}

function isAlnumBefore(text: string, index: number): boolean {
  if (index <= 0) return false;
  // A surrogate pair ends at index-1; read the whole code point.
  const low = text.charCodeAt(index - 1);
  const start = low >= 0xdc00 && low <= 0xdfff && index >= 2 ? index - 2 : index - 1;
  return isAlnumAt(text, start);
}

interface TermMatch {
  start: boolean;
  end: boolean;
}

/** Finds `needle` in `haystack` with term boundaries where `bounds` asks for them. */
function findTerm(
  haystack: string,
  needle: string,
  bounds: TermMatch,
  caseSensitive: boolean,
): boolean {
  const h = caseSensitive ? haystack : fold(haystack);
  const n = caseSensitive ? needle : fold(needle);
  if (n === "") return true;
  // A boundary matters only where the needle itself begins or ends with an alphanumeric.
  const needStart = bounds.start && isAlnumAt(n, 0);
  const needEnd = bounds.end && isAlnumBefore(n, n.length);
  for (let at = h.indexOf(n); at !== -1; at = h.indexOf(n, at + 1)) {
    if (needStart && isAlnumBefore(h, at)) continue;
    if (needEnd && isAlnumAt(h, at + n.length)) continue;
    return true;
  }
  return false;
}

/** `has` / `has_cs`: the right side is a whole term (or run of terms) of the left side. */
export function has(haystack: string, needle: string, caseSensitive = false): boolean {
  return findTerm(haystack, needle, { start: true, end: true }, caseSensitive);
}

/** `hasprefix`: the right side is a prefix of a term of the left side. */
export function hasPrefix(haystack: string, needle: string, caseSensitive = false): boolean {
  return findTerm(haystack, needle, { start: true, end: false }, caseSensitive);
}

/** `hassuffix`: the right side is a suffix of a term of the left side. */
export function hasSuffix(haystack: string, needle: string, caseSensitive = false): boolean {
  return findTerm(haystack, needle, { start: false, end: true }, caseSensitive);
}

/** `contains` / `contains_cs`: a plain substring test. */
export function contains(haystack: string, needle: string, caseSensitive = false): boolean {
  return caseSensitive ? haystack.includes(needle) : fold(haystack).includes(fold(needle));
}

export function startsWith(haystack: string, needle: string, caseSensitive = false): boolean {
  return caseSensitive ? haystack.startsWith(needle) : fold(haystack).startsWith(fold(needle));
}

export function endsWith(haystack: string, needle: string, caseSensitive = false): boolean {
  return caseSensitive ? haystack.endsWith(needle) : fold(haystack).endsWith(fold(needle));
}

/** `=~`: equal ignoring case. */
export function equalsIgnoreCase(a: string, b: string): boolean {
  return fold(a) === fold(b);
}

const regexCache = new Map<string, RE2JS>();

/**
 * Compiles a Kusto regular expression (learn.microsoft.com/kusto/query/re2: Kusto uses RE2) with
 * RE2JS, the linear-time port the project already uses; a bad pattern is the query's error.
 */
export function compileRegex(pattern: string): RE2JS {
  const cached = regexCache.get(pattern);
  if (cached) return cached;
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new KqlRuntimeError(`'${pattern}' is not a valid regular expression: ${detail}`);
  }
  regexCache.set(pattern, compiled);
  return compiled;
}

/** `matches regex`: the pattern matches somewhere in the text (not anchored). */
export function matchesRegex(text: string, pattern: string): boolean {
  return compileRegex(pattern).matcher(text).find();
}

/** extract(regex, group, text): the group's text of the first match; undefined without one. */
export function extractGroup(pattern: string, group: number, text: string): string | undefined {
  const matcher = compileRegex(pattern).matcher(text);
  if (!matcher.find()) return undefined;
  if (group < 0 || group > matcher.groupCount()) {
    throw new KqlRuntimeError(`extract(): the regular expression has no capture group ${group}`);
  }
  return matcher.group(group) ?? undefined;
}
