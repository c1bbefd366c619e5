// The one message the timer tick puts on the detection queue for each detection it finds due:
// "run this rule now". It carries no work of its own: what a run reads and writes is in the
// detection's state (watermarks, ledger, outbox), so a message lost, duplicated or sent to the
// poison queue loses nothing; the next tick asks again.

/** A request to run one detection, as the tick enqueues it. */
export interface DetectionMessage {
  /** The detection's rule id (the `id` of its analytic-rule YAML). */
  ruleId: string;
  /** When the tick enqueued it (ISO 8601, UTC). */
  enqueuedAt: string;
  /** The tick that enqueued it: every message of one tick shares it. */
  tickId: string;
}

/** A message that is not a DetectionMessage, with the reason in a few words. */
export interface BadMessage {
  problem: string;
}

const FIELDS: readonly (keyof DetectionMessage)[] = ["ruleId", "enqueuedAt", "tickId"];
/** Rule ids are GUIDs in Sentinel's format; anything up to this long and printable is accepted. */
const MAX_ID = 128;
const PRINTABLE = /^[\x21-\x7e]+$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
/** Longest part of a bad message repeated in its log line. */
const MAX_SHOWN = 200;

/**
 * The message's text on the queue: JSON, then base64, because the queue trigger decodes base64
 * by default (host.json `extensions.queues.messageEncoding`, "base64" unless set to "none":
 * learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json). The
 * Storage SDK for JavaScript sends text as given, so the encoding is done here.
 */
export function encodeMessage(message: DetectionMessage): string {
  return Buffer.from(JSON.stringify(message), "utf8").toString("base64");
}

/**
 * Checks what the queue trigger handed over: the host gives a JSON message as an object (the
 * Node.js worker parses JSON payloads; functions-bindings-storage-queue-trigger, "Usage"), and
 * anything else as a string or a Buffer, so all three are accepted here.
 */
export function parseMessage(entry: unknown): DetectionMessage | BadMessage {
  let value: unknown = entry;
  if (Buffer.isBuffer(value)) value = value.toString("utf8");
  if (typeof value === "string") {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return { problem: "is not JSON" };
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { problem: "is not a JSON object" };
  }
  const record = value as Record<string, unknown>;
  const unknownKeys = Object.keys(record).filter(
    (key) => !(FIELDS as readonly string[]).includes(key),
  );
  if (unknownKeys.length > 0) return { problem: `has unknown field(s) ${unknownKeys.join(", ")}` };
  for (const field of FIELDS) {
    const fieldValue = record[field];
    if (typeof fieldValue !== "string" || fieldValue === "") {
      return { problem: `has no ${field} string` };
    }
  }
  const { ruleId, enqueuedAt, tickId } = record as unknown as DetectionMessage;
  for (const [field, id] of [
    ["ruleId", ruleId],
    ["tickId", tickId],
  ] as const) {
    if (id.length > MAX_ID || !PRINTABLE.test(id)) {
      return { problem: `has a ${field} that is not a short printable id` };
    }
  }
  if (!ISO_UTC.test(enqueuedAt) || Number.isNaN(Date.parse(enqueuedAt))) {
    return { problem: "has an enqueuedAt that is not an ISO 8601 UTC time" };
  }
  return { ruleId, enqueuedAt, tickId };
}

/** True for a parse result that is a valid message. */
export function isDetectionMessage(
  parsed: DetectionMessage | BadMessage,
): parsed is DetectionMessage {
  return !("problem" in parsed);
}

/** A bad message as a log line can show it: JSON, cut short, control characters escaped. */
export function shownMessage(entry: unknown): string {
  let shown: string;
  if (Buffer.isBuffer(entry)) shown = entry.toString("utf8");
  else if (typeof entry === "string") shown = entry;
  else {
    try {
      shown = JSON.stringify(entry) ?? String(entry);
    } catch {
      shown = String(entry);
    }
  }
  const escaped = JSON.stringify(shown);
  return escaped.length > MAX_SHOWN ? `${escaped.slice(0, MAX_SHOWN)}…` : escaped;
}
