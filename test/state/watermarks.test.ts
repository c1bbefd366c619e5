import type { TableClient } from "@azure/data-tables";
import { extendCoverage } from "../../functions/query/window";
import { detectionKey } from "../../functions/state/detectionKey";
import { scopedLayout } from "../../functions/state/layout";
import { WatermarkConflictError, Watermarks } from "../../functions/state/watermarks";
import { useStateTables } from "../support/stateTable";

const tables = useStateTables();
let table: TableClient;
let store: Watermarks;

beforeEach(async () => {
  table = tables.table();
  await table.createTable();
  store = new Watermarks(table, scopedLayout(detectionKey("rule-1", "workspace-1")));
});

describe("watermarks against Azurite", () => {
  it("advances the watermark, and refuses a second writer holding a stale ETag", async () => {
    const first = await store.read();
    expect(first).toEqual({ value: undefined, etag: undefined });
    await store.advance(new Date("2026-11-25T10:00:00Z"), first);
    // A concurrent run that read before the first one wrote:
    await expect(store.advance(new Date("2026-11-25T10:05:00Z"), first)).rejects.toThrow(
      WatermarkConflictError,
    );
    const second = await store.read();
    expect(second.value?.toISOString()).toBe("2026-11-25T10:00:00.000Z");
    await store.advance(new Date("2026-11-25T10:05:00Z"), second);
    await expect(store.advance(new Date("2026-11-25T10:10:00Z"), second)).rejects.toThrow(
      WatermarkConflictError,
    );
    expect((await store.read()).value?.toISOString()).toBe("2026-11-25T10:05:00.000Z");
  });

  it("keeps the routine pass's coverage with its watermark, and each pass its own row", async () => {
    const window = {
      start: new Date("2026-11-25T09:55:00Z"),
      end: new Date("2026-11-25T10:00:00Z"),
    };
    const coverage = extendCoverage(undefined, window, new Date("2026-11-24T09:55:00Z"));
    await store.advance(window.end, await store.read(), "routine", coverage);
    await store.advance(new Date("2026-11-25T09:00:00Z"), await store.read("catchup"), "catchup");
    const both = await store.readAll();
    expect(both.routine).toMatchObject({ value: window.end, coverage });
    expect(both.catchup.value).toEqual(new Date("2026-11-25T09:00:00Z"));
    expect(both.catchup.coverage).toBeUndefined();
  });

  it("reads a coverage it cannot parse as unknown, so the catch-up reads everything", async () => {
    await table.createEntity({
      partitionKey: "rule-1_workspace-1_watermark",
      rowKey: "routine",
      Watermark: "2026-11-25T10:00:00.000Z",
      Coverage: "{not json",
    });
    const read = await store.read();
    expect(read.value).toEqual(new Date("2026-11-25T10:00:00.000Z"));
    expect(read.coverage).toBeUndefined();
  });
});
