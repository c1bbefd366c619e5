import type { ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { SETTING_NAMES } from "../functions/config/settings";

// Running the detection's commands in child processes, as npm and the Functions host do: for the
// end-to-end tests and the bench alike.

/** How a child process ended, and everything it printed. */
export interface Finished {
  status: number | null;
  stdout: string;
  stderr: string;
  /** When (performance.now(), ms) the child printed its last output, and when it exited. */
  lastOutputAt: number;
  exitedAt: number;
}

/** Collects a child's output until it exits; rejects if it could not be started. */
export function outputOf(child: ChildProcessByStdio<null, Readable, Readable>): Promise<Finished> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let lastOutputAt = performance.now();
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      lastOutputAt = performance.now();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      lastOutputAt = performance.now();
    });
    child.on("error", reject);
    child.on("exit", (status) =>
      resolve({ status, stdout, stderr, lastOutputAt, exitedAt: performance.now() }),
    );
  });
}

/** This process's environment without any detection setting, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of SETTING_NAMES) delete env[name];
  return { ...env, ...extra };
}
