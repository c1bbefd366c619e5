import { InvalidTimespanError, parseTimespan } from "../../sandbox/timespan";

const now = new Date("2026-11-25T09:00:00Z");

describe("query API timespan", () => {
  it("reads start/end, as LogsQueryClient sends { startTime, endTime }", () => {
    expect(parseTimespan("2026-11-18T09:00:00.000Z/2026-11-25T09:00:00.000Z", now)).toEqual({
      start: new Date("2026-11-18T09:00:00Z"),
      end: new Date("2026-11-25T09:00:00Z"),
    });
  });

  it("reads start/duration, duration/end and a bare duration ending now", () => {
    expect(parseTimespan("2026-11-25T08:00:00Z/PT30M", now).end).toEqual(
      new Date("2026-11-25T08:30:00Z"),
    );
    expect(parseTimespan("P1D/2026-11-25T08:00:00Z", now).start).toEqual(
      new Date("2026-11-24T08:00:00Z"),
    );
    expect(parseTimespan("P7D", now)).toEqual({
      start: new Date("2026-11-18T09:00:00Z"),
      end: now,
    });
  });

  it.each(["", "P", "PT", "P1M", "P1Y", "yesterday", "2026-11-25/2026-11-26", "a/b/c"])(
    "refuses %p",
    (text) => {
      expect(() => parseTimespan(text, now)).toThrow(InvalidTimespanError);
    },
  );

  it("refuses a range that ends before it starts", () => {
    expect(() => parseTimespan("2026-11-25T09:00:00Z/2026-11-25T08:00:00Z", now)).toThrow(
      InvalidTimespanError,
    );
  });
});
