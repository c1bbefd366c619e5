import { odata, type TableClient } from "@azure/data-tables";
import type { QueryPass, RoutineCoverage } from "../query/window";
import type { StateLayout } from "./layout";
import { isStatus } from "./tableBatch";

// One row per query pass in the detection's watermark partition. The routine pass's row also
// keeps what its recent windows read (RoutineCoverage, query/window.ts), so the catch-up pass
// can leave out what the routine pass provably covered.

/** Another run advanced the watermark first; this run must not overwrite it. */
export class WatermarkConflictError extends Error {
  constructor() {
    super("another run advanced the watermark concurrently");
    this.name = "WatermarkConflictError";
  }
}

/** The watermark as read, with the ETag that a later update must match. */
export interface Watermark {
  value: Date | undefined;
  etag: string | undefined;
  /** The routine pass's: what its windows read since `from`; absent when not known. */
  coverage?: RoutineCoverage;
}

const NO_WATERMARK: Watermark = { value: undefined, etag: undefined };

type WatermarkEntity = { Watermark: string; Coverage?: string };
/** As stored: [window end, timespan start] per window, ISO strings. */
type StoredCoverage = { from: string; windows: [string, string][] };

function toWatermark(row: WatermarkEntity & { etag?: string }): Watermark {
  const coverage = row.Coverage ? parseCoverage(row.Coverage) : undefined;
  return { value: new Date(row.Watermark), etag: row.etag, ...(coverage ? { coverage } : {}) };
}

// A row written by hand or by another version may hold anything: then nothing is known.
function parseCoverage(json: string): RoutineCoverage | undefined {
  try {
    const stored = JSON.parse(json) as StoredCoverage;
    const coverage = {
      from: new Date(stored.from),
      windows: stored.windows.map(([end, timespanStart]) => ({
        end: new Date(end),
        timespanStart: new Date(timespanStart),
      })),
    };
    const dates = [coverage.from, ...coverage.windows.flatMap((w) => [w.end, w.timespanStart])];
    return dates.every((d) => !Number.isNaN(d.getTime())) ? coverage : undefined;
  } catch {
    return undefined;
  }
}

function storedCoverage(coverage: RoutineCoverage): string {
  const stored: StoredCoverage = {
    from: coverage.from.toISOString(),
    windows: coverage.windows.map((w) => [w.end.toISOString(), w.timespanStart.toISOString()]),
  };
  return JSON.stringify(stored);
}

/** A detection's watermarks, one per query pass. */
export class Watermarks {
  constructor(
    private readonly table: TableClient,
    private readonly layout: StateLayout,
  ) {}

  /** Reads every query pass's watermark in one request (a run needs both). */
  async readAll(): Promise<Record<QueryPass, Watermark>> {
    const found: Record<QueryPass, Watermark> = { routine: NO_WATERMARK, catchup: NO_WATERMARK };
    const passOf = new Map<string, QueryPass>(
      (["routine", "catchup"] as const).map((pass) => [this.layout.watermarkRow(pass), pass]),
    );
    const rows = [...passOf.keys()].map((row) => odata`RowKey eq ${row}`).join(" or ");
    const partition = odata`PartitionKey eq ${this.layout.watermarkPartition}`;
    try {
      for await (const row of this.table.listEntities<WatermarkEntity>({
        queryOptions: { filter: `${partition} and (${rows})` },
      })) {
        const pass = passOf.get(row.rowKey ?? "");
        if (pass) found[pass] = toWatermark(row);
      }
    } catch (error) {
      // A dry run before the first real run finds no table yet: no watermark.
      if (!isStatus(error, 404)) throw error;
    }
    return found;
  }

  /** Reads a query pass's watermark and the ETag that guards its next update. */
  async read(pass: QueryPass = "routine"): Promise<Watermark> {
    try {
      const row = await this.table.getEntity<WatermarkEntity>(
        this.layout.watermarkPartition,
        this.layout.watermarkRow(pass),
      );
      return toWatermark(row);
    } catch (error) {
      if (isStatus(error, 404)) return NO_WATERMARK;
      throw error;
    }
  }

  /**
   * Moves the watermark forward (with the routine pass's coverage, when given) and returns it as
   * now stored; throws WatermarkConflictError if another run moved it first.
   */
  async advance(
    to: Date,
    previous: Watermark,
    pass: QueryPass = "routine",
    coverage?: RoutineCoverage,
  ): Promise<Watermark> {
    const entity = {
      partitionKey: this.layout.watermarkPartition,
      rowKey: this.layout.watermarkRow(pass),
      Watermark: to.toISOString(),
      ...(coverage ? { Coverage: storedCoverage(coverage) } : {}),
    };
    try {
      const response =
        previous.etag === undefined
          ? await this.table.createEntity(entity)
          : await this.table.updateEntity(entity, "Replace", { etag: previous.etag });
      return { value: to, etag: response.etag, ...(coverage ? { coverage } : {}) };
    } catch (error) {
      if (!isStatus(error, 409, 412)) throw error;
      // A retried write whose first attempt landed conflicts with itself: that one is fine.
      const stored = await this.read(pass);
      if (stored.value?.getTime() !== to.getTime()) throw new WatermarkConflictError();
      return stored;
    }
  }
}
