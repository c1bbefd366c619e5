// Types of check-deployer.js, the azd preprovision hook, for the tests that drive it.
export type AzRunner = (args: string[]) => unknown;

export interface Verdict {
  error?: string;
  warning?: string;
  note?: string;
}

export function checkDeployer(env: Record<string, string | undefined>, az: AzRunner): Verdict;

export function parseWorkspaceId(
  value: string | undefined,
): { subscriptionId: string; resourceGroup: string; name: string } | { problem: string };

export const NEEDS: Record<"deployment" | "workspace", { right: string; roles: string[] }[]>;
