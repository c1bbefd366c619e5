// The incident description is Markdown for Sentinel, with every value from an event escaped so
// it cannot become markup there (functions/incidents/markdown.ts). A terminal shows Markdown as
// its source, so the sandbox prints the same description as text a person reads: escapes undone,
// emphasis dropped, links as "text <url>". Display only; the payload itself is never changed.

// A backslash before any ASCII punctuation is a Markdown escape (CommonMark 0.31, section 2.4).
const ESCAPE = /\\([!-/:-@[-`{-~])/g;
// A link whose brackets are not themselves escaped: [text](https://…).
const LINK = /(?<!\\)\[((?:\\.|[^\]\\])*)\]\((https:[^)\s]+)\)/g;
// Strong emphasis markers that are not escaped.
const STRONG = /(?<!\\)\*\*/g;

/** The Markdown description as plain text for a terminal. */
export function markdownAsText(markdown: string): string {
  return markdown
    .replace(LINK, (_, text: string, url: string) => `${text} <${url}>`)
    .replace(STRONG, "")
    .replace(ESCAPE, "$1");
}
