// A stand-in for the Azure Functions host's Node.js worker, enough to load a function app the way
// Azure does and run its timer functions once: `node sandbox/functionsHost.js <app dir> [load|run]`.
//
// The worker gives the app a module named @azure/functions-core (it is not on npm);
// @azure/functions calls its setProgrammingModel and registerFunction when the app registers a
// function. This stand-in provides that module, requires the app's package.json "main", and
// prints one JSON line: what was registered and how long the require took (wall and CPU). With
// `run` it then invokes each registered timer handler once, as a timer tick would, and adds every
// line the handlers logged, whether they threw and how long they took; last, the process's peak
// memory. Plain JavaScript, so it runs against a bundle without a build, on whichever node runs
// it (the bench times cold starts on Node 22 with it).
const Module = require("node:module");
const path = require("node:path");
const process = require("node:process");
const { performance } = require("node:perf_hooks");

const CORE = "@azure/functions-core";
const registered = [];

const core = {
  setProgrammingModel() {},
  registerFunction(metadata, handler) {
    registered.push({ metadata, handler });
    return { dispose() {} };
  },
};

// Resolve the worker's module by name from anywhere, as the worker does.
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === CORE ? CORE : resolveFilename.call(this, request, ...rest);
};
require.cache[CORE] = { id: CORE, filename: CORE, loaded: true, exports: core };

function describe({ metadata }) {
  const trigger = Object.values(metadata.bindings ?? {}).find((b) => /Trigger$/.test(b.type));
  return { name: metadata.name, trigger: trigger?.type, schedule: trigger?.schedule };
}

async function invoke({ metadata, handler }) {
  const logs = [];
  const log =
    (level) =>
    (...args) =>
      logs.push({ level, message: args.map(String).join(" ") });
  const context = {
    invocationId: "functions-host-stand-in",
    functionName: metadata.name,
    log: log("information"),
    info: log("information"),
    warn: log("warning"),
    error: log("error"),
    trace: log("trace"),
    debug: log("debug"),
  };
  const timer = {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: "", next: "", lastUpdated: "" },
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  // CPU time as well as wall time: on a busy machine only the former says what the run cost.
  const timing = () => {
    const { user, system } = process.cpuUsage(cpu);
    return { ms: performance.now() - started, cpuMs: (user + system) / 1000 };
  };
  try {
    await handler(timer, context);
    return { name: metadata.name, ok: true, ...timing(), logs };
  } catch (error) {
    return {
      name: metadata.name,
      ok: false,
      ...timing(),
      error: String(error?.message ?? error),
      logs,
    };
  }
}

async function main() {
  const [appDir, mode = "load"] = process.argv.slice(2);
  if (!appDir || !["load", "run"].includes(mode)) {
    throw new Error("usage: node sandbox/functionsHost.js <app dir> [load|run]");
  }
  const { main: entry } = require(path.resolve(appDir, "package.json"));
  const cpu = process.cpuUsage();
  const started = performance.now();
  require(path.resolve(appDir, entry));
  const loadMs = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  const result = {
    node: process.version,
    loadMs,
    loadCpuMs: (user + system) / 1000,
    registered: registered.map(describe),
  };
  if (mode === "run") {
    result.invocations = [];
    for (const fn of registered) result.invocations.push(await invoke(fn));
  }
  // Peak resident memory of this process (the app and this stand-in), in MB (Linux reports KB).
  result.maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`functionsHost: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
