// Which of a rule's row columns fill which entity column of the alert row (infra/alert-table.json),
// from the rule's Sentinel entityMappings (entityType + identifier -> columnName). The analytics
// rule over the alert table maps those alert columns to entities again (infra/sentinel/
// analytics-rule.json), so one rule there serves every detection's mappings.
import type { EntityMapping } from "../detection/analyticRule";

/** Alert-table column of each (entityType, identifier) the alert table carries. */
const ALERT_COLUMN_OF: Record<string, string> = {
  "Host.HostName": "HostName",
  // Defender's DeviceName is the FQDN: alertRows.ts splits it into HostName and HostDnsDomain.
  "Host.FullName": "HostName",
  "Host.DnsDomain": "HostDnsDomain",
  "Account.Name": "AccountName",
  "Account.NTDomain": "AccountDomain",
  "File.Name": "FileName",
  "File.Directory": "FileDirectory",
  "Process.CommandLine": "ProcessCommandLine",
  "IP.Address": "IPAddress",
};

/**
 * Alert column -> the rule's row column, for each mapping the alert table can carry (the first
 * mapping of a pair wins; identifiers the table has no column for are left out).
 */
export function entityColumnsOf(mappings: readonly EntityMapping[]): Record<string, string> {
  const columns: Record<string, string> = {};
  for (const mapping of mappings) {
    for (const field of mapping.fieldMappings) {
      const alertColumn = ALERT_COLUMN_OF[`${mapping.entityType}.${field.identifier}`];
      if (alertColumn && !(alertColumn in columns)) columns[alertColumn] = field.columnName;
    }
  }
  return columns;
}

/**
 * The entity fields of a rule's mappings that no alert column carries ("FileHash.Value",
 * "Account.Sid"): Sentinel would map them, this engine's alert rows cannot, so `detections check`
 * names them rather than leaving them out unsaid.
 */
export function entityFieldsWithoutColumn(mappings: readonly EntityMapping[]): string[] {
  return mappings.flatMap((mapping) =>
    mapping.fieldMappings
      .map((field) => `${mapping.entityType}.${field.identifier}`)
      .filter((field) => !(field in ALERT_COLUMN_OF)),
  );
}
