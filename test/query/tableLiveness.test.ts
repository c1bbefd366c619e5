import { loadDetectionRule } from "../../functions/detection/rule";
import {
  MissingTableError,
  requiredTables,
  silentTables,
} from "../../functions/query/tableLiveness";

const NOW = new Date("2026-11-25T12:00:00.000Z");
const DAY = 86_400_000;

describe("silentTables", () => {
  it("is empty when every table ingested within the silence threshold", () => {
    expect(
      silentTables(
        {
          DeviceProcessEvents: "2026-11-25T11:59:00.000Z",
          DeviceFileEvents: "2026-11-24T12:00:01.000Z",
        },
        NOW,
        DAY,
      ),
    ).toEqual([]);
  });

  it("names a table with nothing in the span, and one whose newest row is as old as the threshold", () => {
    expect(
      silentTables(
        { DeviceProcessEvents: null, DeviceFileEvents: "2026-11-24T12:00:00.000Z" },
        NOW,
        DAY,
      ),
    ).toEqual(["DeviceProcessEvents", "DeviceFileEvents"]);
  });
});

describe("requiredTables", () => {
  it("takes the tables and their connector from the rule's requiredDataConnectors", () => {
    expect(requiredTables(loadDetectionRule())).toEqual([
      { table: "DeviceProcessEvents", connectorId: "MicrosoftThreatProtection" },
      { table: "DeviceFileEvents", connectorId: "MicrosoftThreatProtection" },
    ]);
  });
});

describe("MissingTableError", () => {
  it("is one line naming every missing table and the connector to enable", () => {
    const error = new MissingTableError([
      { table: "DeviceProcessEvents", connectorId: "MicrosoftThreatProtection" },
      { table: "DeviceFileEvents", connectorId: "MicrosoftThreatProtection" },
    ]);
    expect(error.message).not.toContain("\n");
    expect(error.message).toMatch(
      /^nbtscan-detector data silence: tables DeviceProcessEvents and DeviceFileEvents are missing/,
    );
    expect(error.message).toContain("data connector MicrosoftThreatProtection");
  });
});
