import { createHash } from "node:crypto";
import type { DetectionKey } from "../state/detectionKey";

// RFC 9562 name-based UUID (version 5, SHA-1): the same detection and event keys always give
// the same id, so redelivering an incident updates the Sentinel incident instead of adding one.
function uuidV5(namespace: string, name: string): string {
  const namespaceBytes = Buffer.from(namespace.replace(/-/g, ""), "hex");
  const hash = createHash("sha1").update(namespaceBytes).update(name, "utf8").digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The detection's own id namespace: a name-based UUID of the workspace id in the rule id's
 * namespace. Event keys (table, device, time, ReportId) say nothing of the workspace, so the
 * same event read by the same rule from two workspaces (a device reporting to both) would
 * otherwise give one id to two incidents with different contents.
 */
export function incidentNamespace(detection: DetectionKey): string {
  return uuidV5(detection.ruleId, detection.workspaceId.toLowerCase());
}

/** Deterministic incident id from the detection and the group's event keys (order-free). */
export function incidentIdFor(detection: DetectionKey, eventKeys: readonly string[]): string {
  return uuidV5(incidentNamespace(detection), [...eventKeys].sort().join("\n"));
}
