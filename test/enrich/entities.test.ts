import { entitiesOf } from "../../functions/enrich/entities";
import type { EnrichedHit } from "../../functions/model";
import { makeEvent } from "../support/events";

const hit = (overrides: Parameters<typeof makeEvent>[0]): EnrichedHit => ({
  key: Math.random().toString(36),
  event: makeEvent(overrides),
  matchedBy: "name",
  renamedBinary: false,
  benign: [],
});

describe("entitiesOf", () => {
  it("lists each host, account, file and process once", () => {
    const entities = entitiesOf([
      hit({ DeviceName: "a", DeviceId: "1", InitiatingProcessAccountName: "x" }),
      hit({ DeviceName: "a", DeviceId: "1", InitiatingProcessAccountName: "X" }),
      hit({
        DeviceName: "b",
        DeviceId: "2",
        InitiatingProcessAccountName: "y",
        SourceTable: "DeviceFileEvents",
      }),
    ]);
    expect(entities.hosts).toEqual([
      { hostName: "a", mdatpDeviceId: "1" },
      { hostName: "b", mdatpDeviceId: "2" },
    ]);
    expect(entities.accounts.map((a) => a.name)).toEqual(["x", "y"]);
    expect(entities.files).toHaveLength(1);
    expect(entities.processes.map((p) => p.hostName)).toEqual(["a"]);
  });

  it("gives the file entity its directory without the file name", () => {
    const [file] = entitiesOf([hit({ FolderPath: "C:\\Users\\Public\\nbtscan.exe" })]).files;
    expect(file).toMatchObject({ name: "nbtscan.exe", directory: "C:\\Users\\Public" });
  });

  it("skips accounts the event does not name", () => {
    expect(entitiesOf([hit({ InitiatingProcessAccountName: "" })]).accounts).toEqual([]);
  });
});
