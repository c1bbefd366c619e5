import { dataScanned } from "../../functions/query/detectionQuery";

describe("dataScanned", () => {
  it("reads rows and extents scanned from the statistics' inputDatasetStatistics", () => {
    const statistics = {
      query: {
        executionTime: 0.59,
        inputDatasetStatistics: {
          extents: { total: 7, scanned: 2, scannedMinDatetime: "2026-11-24T00:00:00Z" },
          rows: { total: 36656, scanned: 12003 },
        },
        datasetStatistics: [{ tableRowCount: 13, tableSize: 4096 }],
      },
    };
    expect(dataScanned(statistics)).toEqual({ rows: 12003, extents: 2 });
  });

  it("is undefined when the service sent no statistics, or none it can read", () => {
    expect(dataScanned(undefined)).toBeUndefined();
    expect(dataScanned({ query: { executionTime: 0.1 } })).toBeUndefined();
    expect(dataScanned({ query: { inputDatasetStatistics: { rows: { scanned: "many" } } } })).toBe(
      undefined,
    );
  });
});
