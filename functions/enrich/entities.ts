import { hasProjectMetadata, type DetectionRule } from "../detection/rule";
import { entityColumnsOf } from "../incidents/entityColumns";
import type { IncidentEntities } from "../incidents/payload";
import type { EnrichedHit } from "../model";
import { rowValue } from "../triage/columns";

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

/**
 * The Sentinel-style entities of a group of hits: nbtscan's fixed columns for a rule with its
 * metadata, otherwise the columns the rule's entityMappings name.
 */
export function entitiesOf(hits: EnrichedHit[], rule?: DetectionRule): IncidentEntities {
  if (rule && !hasProjectMetadata(rule)) return mappedEntitiesOf(hits, rule);
  return nbtscanEntitiesOf(hits);
}

/** Entities from the rule's mappings: each kind only when the rule maps it. */
function mappedEntitiesOf(hits: EnrichedHit[], rule: DetectionRule): IncidentEntities {
  const columns = entityColumnsOf(rule.loaded.entityMappings);
  const events = hits.map((h) => h.event);
  const read = (alertColumn: string) => (e: (typeof events)[number]) =>
    columns[alertColumn] ? rowValue(e, columns[alertColumn]) : "";
  const account = read("AccountName");
  const domain = read("AccountDomain");
  const fileName = read("FileName");
  const folder = read("FileDirectory");
  const commandLine = read("ProcessCommandLine");
  const ip = read("IPAddress");
  return {
    hosts: uniqueBy(
      events.map((e) => ({ hostName: e.DeviceName, mdatpDeviceId: e.DeviceId })),
      (h) => h.mdatpDeviceId || h.hostName,
    ),
    ...(columns.IPAddress
      ? {
          ips: uniqueBy(
            events.filter((e) => ip(e)).map((e) => ({ address: ip(e) })),
            (i) => i.address,
          ),
        }
      : {}),
    accounts: uniqueBy(
      events.filter((e) => account(e)).map((e) => ({ name: account(e), ntDomain: domain(e) })),
      (a) => `${a.ntDomain}\\${a.name}`,
    ),
    files: uniqueBy(
      events
        .filter((e) => fileName(e))
        .map((e) => ({
          name: fileName(e),
          directory: directoryOf(folder(e), fileName(e)),
          sha1: e.SHA1,
          sha256: e.SHA256,
        })),
      (f) => `${f.directory}\\${f.name}|${f.sha1}`,
    ),
    processes: uniqueBy(
      events
        .filter((e) => commandLine(e))
        .map((e) => ({
          commandLine: commandLine(e),
          imageFileName:
            e.SourceTable === "DeviceProcessEvents" ? e.FileName : e.InitiatingProcessFileName,
          parentImageFileName:
            e.SourceTable === "DeviceProcessEvents"
              ? e.InitiatingProcessFileName
              : e.InitiatingProcessParentFileName,
          hostName: e.DeviceName,
          accountName: account(e),
        })),
      (p) => `${p.hostName}|${p.commandLine}|${p.parentImageFileName}`,
    ),
  };
}

/** nbtscan's entities: hosts, accounts, files and processes from its fixed columns. */
function nbtscanEntitiesOf(hits: EnrichedHit[]): IncidentEntities {
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
