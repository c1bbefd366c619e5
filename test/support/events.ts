import type { DetectionEvent } from "../../functions/model";

/** A known nbtscan SHA1 from the rule metadata (nbtscan.yaml knownHashes). */
export const NBTSCAN_SHA1 = "9af0cb61580dba0e380cddfe9ca43a3e128ed2f8";

let reportId = 1000;

/** A plausible nbtscan process event; override any column. */
export function processEvent(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  reportId += 1;
  return {
    SourceTable: "DeviceProcessEvents",
    TimeGenerated: "2026-11-25T08:00:00.000Z",
    Timestamp: "2026-11-25T08:00:00.000Z",
    IngestionTime: "2026-11-25T08:03:00.000Z",
    DeviceId: "1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
    DeviceName: "ws-fin-07.contoso.local",
    ReportId: String(reportId),
    ActionType: "ProcessCreated",
    FolderPath: "C:\\Tools\\nbtscan.exe",
    FileName: "nbtscan.exe",
    SHA1: "0123456789abcdef0123456789abcdef01234567",
    SHA256: "a".repeat(64),
    ProcessCommandLine: "nbtscan.exe -r 10.1.2.0/24",
    InitiatingProcessAccountDomain: "CONTOSO",
    InitiatingProcessAccountName: "j.doe",
    InitiatingProcessFileName: "cmd.exe",
    InitiatingProcessCommandLine: "cmd.exe /c nbtscan.exe -r 10.1.2.0/24",
    InitiatingProcessParentFileName: "explorer.exe",
    ...overrides,
  };
}
