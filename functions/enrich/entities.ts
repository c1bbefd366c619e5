import type { IncidentEntities } from "../incidents/payload";
import type { EnrichedHit } from "../model";

function uniqueBy<T>(items: T[], keyOf: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) {
    const key = keyOf(item).toLowerCase();
    if (!seen.has(key)) seen.set(key, item);
  }
  return [...seen.values()];
}

// Defender reports a folder path that ends in the file name; Sentinel's File entity wants the
// directory on its own.
function directoryOf(folderPath: string, fileName: string): string {
  const lower = folderPath.toLowerCase();
  if (fileName && lower.endsWith(`\\${fileName.toLowerCase()}`)) {
    return folderPath.slice(0, folderPath.length - fileName.length - 1);
  }
  return folderPath;
}

/** The Sentinel-style entities of a group of hits: hosts, accounts, files and processes. */
export function entitiesOf(hits: EnrichedHit[]): IncidentEntities {
  const events = hits.map((h) => h.event);
  return {
    hosts: uniqueBy(
      events.map((e) => ({ hostName: e.DeviceName, mdatpDeviceId: e.DeviceId })),
      (h) => h.mdatpDeviceId || h.hostName,
    ),
    accounts: uniqueBy(
      events
        .filter((e) => e.InitiatingProcessAccountName)
        .map((e) => ({
          name: e.InitiatingProcessAccountName,
          ntDomain: e.InitiatingProcessAccountDomain,
        })),
      (a) => `${a.ntDomain}\\${a.name}`,
    ),
    files: uniqueBy(
      events.map((e) => ({
        name: e.FileName,
        directory: directoryOf(e.FolderPath, e.FileName),
        sha1: e.SHA1,
        sha256: e.SHA256,
      })),
      (f) => `${f.directory}\\${f.name}|${f.sha1}`,
    ),
    processes: uniqueBy(
      events
        .filter((e) => e.SourceTable === "DeviceProcessEvents")
        .map((e) => ({
          commandLine: e.ProcessCommandLine,
          imageFileName: e.FileName,
          parentImageFileName: e.InitiatingProcessFileName,
          hostName: e.DeviceName,
          accountName: e.InitiatingProcessAccountName,
        })),
      (p) => `${p.hostName}|${p.commandLine}|${p.parentImageFileName}`,
    ),
  };
}
