// Sentinel's limits on the incident fields the text modules write (description.ts, ruleText.ts).

/** Incident title. */
export const TITLE_LIMIT = 255;
/** Incident description (Markdown). */
export const DESCRIPTION_LIMIT = 5000;
/** One incident comment. */
export const EVIDENCE_COMMENT_LIMIT = 30000;
