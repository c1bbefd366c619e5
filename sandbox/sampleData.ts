import { readFileSync } from "node:fs";
import path from "node:path";
import { DataFileError, parseJsonText } from "../functions/dataFile";
import {
  EVENT_COLUMNS,
  SOURCE_TABLES,
  type DetectionEvent,
  type EventColumn,
} from "../functions/model";
import { compileSchema } from "../functions/validation";

// The dataset `npm start` serves. Times are stored as offsets from now so the events always fall
// inside the first run: generated within the 7-day lookback, ingested before the settle margin.
// It is read from disk, not imported, so a person's edit that breaks its JSON is one line,
// `file:line:col: message`, instead of a stack trace (functions/dataFile.ts).

/** The shipped dataset (the build copies it beside the compiled module: scripts/copy-assets.js). */
export const SAMPLE_EVENTS_FILE = path.join(__dirname, "sample-events.json");
/** The other shipped detections' hits and near misses, any Device* table (same copy). */
export const RULE_SAMPLE_EVENTS_FILE = path.join(__dirname, "sample-events.rules.json");

const MINUTE_MS = 60 * 1000;
/** The first run looks back 7 days; an hour of slack keeps a slow start inside it. */
const MAX_MINUTES_AGO = 7 * 24 * 60 - 60;
/** Ingested before the run's 2-minute settle margin, with a minute of slack. */
const MIN_INGESTED_MINUTES_AGO = 3;

/** One event of sample-events.json: event columns plus time offsets and a note. */
export interface SampleEvent extends Omit<
  DetectionEvent,
  "TimeGenerated" | "Timestamp" | "IngestionTime" | "ReportId"
> {
  /** Why the event is in the dataset. */
  note: string;
  timeGeneratedMinutesAgo: number;
  ingestedMinutesAgo: number;
  ReportId: number;
}

const TIME_COLUMNS: readonly EventColumn[] = ["TimeGenerated", "Timestamp", "IngestionTime"];
const text = { type: "string" } as const;
const hex = (length: number) => ({ type: "string", pattern: `^[0-9a-f]{${length}}$` }) as const;

/** A sample file: a `$comment` and a non-empty `events` array of `item`s. */
function eventsDocument<Item>(item: Item) {
  return {
    type: "object",
    required: ["events"],
    properties: {
      $comment: { type: "array", items: text },
      events: { type: "array", minItems: 1, items: item },
    },
  } as const;
}

const sampleEventSchema = {
  type: "object",
  additionalProperties: false,
  // Every event column except the times, which the file holds as offsets from now.
  required: [
    "note",
    "timeGeneratedMinutesAgo",
    "ingestedMinutesAgo",
    ...EVENT_COLUMNS.filter((c) => !TIME_COLUMNS.includes(c)),
  ],
  properties: {
    note: { type: "string", minLength: 1 },
    SourceTable: { enum: [...SOURCE_TABLES] },
    timeGeneratedMinutesAgo: { type: "number", maximum: MAX_MINUTES_AGO },
    ingestedMinutesAgo: { type: "number", minimum: MIN_INGESTED_MINUTES_AGO },
    DeviceId: hex(40),
    DeviceName: { type: "string", minLength: 1 },
    ReportId: { type: "integer", minimum: 1 },
    ActionType: { enum: ["ProcessCreated", "FileCreated", "FileModified", "FileRenamed"] },
    FolderPath: { type: "string", minLength: 1 },
    FileName: { type: "string", minLength: 1 },
    SHA1: hex(40),
    SHA256: hex(64),
    ProcessCommandLine: text,
    InitiatingProcessAccountDomain: text,
    InitiatingProcessAccountName: text,
    InitiatingProcessFileName: text,
    InitiatingProcessCommandLine: text,
    InitiatingProcessParentFileName: text,
  },
};

const validateSample = compileSchema<{ events: SampleEvent[] }>(
  eventsDocument(sampleEventSchema),
  "sample events",
);

/** One event of sample-events.rules.json: any Device* row, columns it leaves out empty. */
type RuleSampleEvent = Partial<SampleEvent> &
  Pick<
    SampleEvent,
    "note" | "timeGeneratedMinutesAgo" | "ingestedMinutesAgo" | "ReportId" | "SourceTable"
  > &
  Pick<SampleEvent, "DeviceId" | "DeviceName" | "ActionType">;

const ruleSampleEventSchema = {
  type: "object",
  additionalProperties: false,
  required: [
    "note",
    "SourceTable",
    "timeGeneratedMinutesAgo",
    "ingestedMinutesAgo",
    "DeviceId",
    "DeviceName",
    "ReportId",
    "ActionType",
  ],
  properties: {
    ...Object.fromEntries(
      EVENT_COLUMNS.filter((c) => !TIME_COLUMNS.includes(c)).map((c) => [c, text]),
    ),
    ...sampleEventSchema.properties,
    SourceTable: { type: "string", pattern: "^Device[A-Za-z]+Events$" },
    ActionType: { type: "string", minLength: 1 },
    SHA1: hex(40),
    OtherColumns: { type: "object", additionalProperties: text },
  },
};

const validateRuleSample = compileSchema<{ events: RuleSampleEvent[] }>(
  eventsDocument(ruleSampleEventSchema),
  "rule sample events",
);

/** How a message names a file: relative to the working directory when it is below it. */
function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
}

/**
 * Reads an events file as JSON. Throws DataFileError, one line: `file: cannot be read (ENOENT)`,
 * or `file:line:col: message` for a syntax error.
 */
export function readSampleDocument(file: string = SAMPLE_EVENTS_FILE): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new DataFileError(`${shownPath(file)}: cannot be read (${code})`);
  }
  return parseJsonText(text, shownPath(file));
}

/**
 * Validates a sample dataset (by default the shipped file) and returns its events with times
 * relative to `now`; `source` names the dataset in a schema problem.
 */
export function loadSampleEvents(
  now: Date,
  document: unknown = readSampleDocument(),
  source: string = shownPath(SAMPLE_EVENTS_FILE),
): DetectionEvent[] {
  const { events } = validateSample(document, source);
  return withTimes(now, events);
}

/**
 * The other detections' sample events (by default sample-events.rules.json), times relative to
 * `now`; a common column an event leaves out is "" as in a query's row.
 */
export function loadRuleSampleEvents(
  now: Date,
  document: unknown = readSampleDocument(RULE_SAMPLE_EVENTS_FILE),
  source: string = shownPath(RULE_SAMPLE_EVENTS_FILE),
): DetectionEvent[] {
  const { events } = validateRuleSample(document, source);
  const empty = Object.fromEntries(
    EVENT_COLUMNS.filter((c) => !TIME_COLUMNS.includes(c)).map((c) => [c, ""]),
  );
  return withTimes(
    now,
    events.map((e) => ({ ...empty, ...e }) as SampleEvent),
  );
}

function withTimes(now: Date, events: readonly SampleEvent[]): DetectionEvent[] {
  const at = (minutesAgo: number): string =>
    new Date(now.getTime() - minutesAgo * MINUTE_MS).toISOString();
  return events.map((sample, i) => {
    const {
      note: _note,
      timeGeneratedMinutesAgo,
      ingestedMinutesAgo,
      ReportId,
      ...columns
    } = sample;
    if (ingestedMinutesAgo > timeGeneratedMinutesAgo) {
      throw new Error(`sample event ${i} (${sample.DeviceName}) is ingested before it happened`);
    }
    const generated = at(timeGeneratedMinutesAgo);
    return {
      ...columns,
      TimeGenerated: generated,
      Timestamp: generated,
      IngestionTime: at(ingestedMinutesAgo),
      ReportId: String(ReportId),
    };
  });
}
