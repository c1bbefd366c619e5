import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freeLoopbackPort, LOOPBACK } from "./loopback";

// Azurite's Table and Queue services as child processes: the real storage emulator, in memory,
// on a free loopback port. Each runs on this Node (process.execPath) straight from its JS entry,
// so no shell, npx or global install is involved.

/** The well-known development-storage account and key Azurite accepts (documented, not secret). */
const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** A running Azurite Table service. */
export interface AzuriteTable {
  connectionString: string;
  /** Table endpoint, including the account: http://127.0.0.1:<port>/devstoreaccount1 */
  endpoint: string;
  /** Child process id, for diagnostics. */
  pid: number;
  /** Kills the process and resolves once it has exited. */
  stop(): Promise<void>;
}

/** A running Azurite Queue service. */
export interface AzuriteQueue {
  connectionString: string;
  /** Queue endpoint, including the account: http://127.0.0.1:<port>/devstoreaccount1 */
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

/** Each service's entry, its host and port options, and the line it prints once listening. */
const SERVICES = {
  // azurite/dist/src/table/main.js
  table: {
    entry: "azurite/dist/src/table/main.js",
    ready: "Azurite Table service successfully started",
  },
  // azurite/dist/src/queue/main.js
  queue: {
    entry: "azurite/dist/src/queue/main.js",
    ready: "Azurite Queue service successfully listens",
  },
} as const;
type Service = keyof typeof SERVICES;

/** How long Azurite gets to print its ready line. */
const START_TIMEOUT_MS = 30_000;

/** Starts Azurite's Table service in memory on a free 127.0.0.1 port. */
export async function startAzuriteTable(): Promise<AzuriteTable> {
  const { endpoint, pid, stop } = await startService("table");
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};` +
      `AccountKey=${AZURITE_ACCOUNT_KEY};TableEndpoint=${endpoint};`,
    endpoint,
    pid,
    stop,
  };
}

/** Starts Azurite's Queue service in memory on a free 127.0.0.1 port. */
export async function startAzuriteQueue(): Promise<AzuriteQueue> {
  const { endpoint, pid, stop } = await startService("queue");
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};` +
      `AccountKey=${AZURITE_ACCOUNT_KEY};QueueEndpoint=${endpoint};`,
    endpoint,
    pid,
    stop,
  };
}

async function startService(
  service: Service,
): Promise<{ endpoint: string; pid: number; stop: () => Promise<void> }> {
  const { entry: entryPath, ready: READY } = SERVICES[service];
  const entry = require.resolve(entryPath);
  const port = await freeLoopbackPort();
  // Azurite checks its working directory is writable even in memory; give it a private one.
  const workDir = mkdtempSync(path.join(tmpdir(), "azurite-"));
  const child = spawn(
    process.execPath,
    [
      entry,
      `--${service}Host`,
      LOOPBACK,
      `--${service}Port`,
      String(port),
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--skipApiVersionCheck",
    ],
    { cwd: workDir, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => rmSync(workDir, { recursive: true, force: true }));

  let output = "";
  await new Promise<void>((resolve, reject) => {
    const fail = (reason: string): void => {
      cleanup();
      child.kill();
      reject(new Error(`Azurite did not start: ${reason}\n${output.trim()}`));
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
      if (output.includes(READY)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null, signal: string | null): void =>
      fail(`exited (code ${code}, signal ${signal})`);
    const onError = (error: Error): void => fail(error.message);
    // A bound on a hung start, not a wait for readiness: readiness is the stdout line.
    const timer = setTimeout(
      () => fail(`no "${READY}" within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout.off("data", onData);
      child.stderr.off("data", onData);
      child.off("exit", onExit);
      child.off("error", onError);
    }
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", onExit);
    child.once("error", onError);
  });
  // Keep draining the pipes so a chatty Azurite (it logs every request) never blocks on them.
  child.stdout.resume();
  child.stderr.resume();

  const endpoint = `http://${LOOPBACK}:${port}/${AZURITE_ACCOUNT}`;
  return {
    endpoint,
    pid: child.pid ?? -1,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
  };
}
