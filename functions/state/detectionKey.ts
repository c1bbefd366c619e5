/**
 * Which detection a piece of state belongs to: a rule run against a workspace. Every partition
 * of the state table is scoped by it, so one detection's lease, watermarks, ledger, outbox and
 * quarantine never touch another's, and running the same rule against a second workspace later
 * needs no migration.
 */
export interface DetectionKey {
  ruleId: string;
  workspaceId: string;
}

// Each part must be a valid piece of a PartitionKey: Table Storage forbids "/", "\", "#", "?"
// and the control characters U+0000–U+001F and U+007F–U+009F in key fields, and caps a key at
// 1 KiB ("Characters disallowed in key fields", learn.microsoft.com/rest/api/storageservices/
// understanding-the-table-service-data-model). Rule ids and workspace ids are GUIDs; letters,
// digits and "-" (no "_") keep the "<rule>_<workspace>_" prefix unambiguous, so one detection's
// key range can never reach into another's.
const KEY_PART = /^[A-Za-z0-9-]{1,128}$/;

/** Checks a detection key's parts, naming the bad one; returns it normalised to lower case. */
export function detectionKey(ruleId: string, workspaceId: string): DetectionKey {
  for (const [name, value] of [
    ["rule id", ruleId],
    ["workspace id", workspaceId],
  ] as const) {
    if (!KEY_PART.test(value)) {
      throw new Error(
        `${name} '${value}' cannot key the detection's state: use letters, digits and '-' only ` +
          "(at most 128), as a GUID does",
      );
    }
  }
  // GUIDs compare case-insensitively: one detection must not get two sets of state.
  return { ruleId: ruleId.toLowerCase(), workspaceId: workspaceId.toLowerCase() };
}

/** The prefix of every partition of this detection's state: "<ruleId>_<workspaceId>_". */
export function partitionPrefix(key: DetectionKey): string {
  return `${key.ruleId}_${key.workspaceId}_`;
}
