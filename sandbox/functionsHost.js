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
//
// Queue triggers (the fan-out's worker) are not timers: after the timers, `run` drains each
// queue whose `connection` setting holds a connection string (Azurite), invoking the handler once
// per message as the host does: the body decoded from base64 (host.json messageEncoding) and
// parsed when JSON, dequeueCount and id as trigger metadata, the message deleted on success and
// left for its visibility to lapse on failure. sandbox/queueHost.ts is the full stand-in
// (release, poison) the tests use; this is the smallest one that runs a packaged app.
const Module = require("node:module");
const path = require("node:path");
const process = require("node:process");
const { performance } = require("node:perf_hooks");
const { Buffer } = require("node:buffer");

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

function describe(fn) {
  const { metadata } = fn;
  const trigger = triggerOf(fn);
  return { name: metadata.name, trigger: trigger?.type, schedule: trigger?.schedule };
}

function triggerOf({ metadata }) {
  return Object.values(metadata.bindings ?? {}).find((b) => /Trigger$/.test(b.type));
}

async function invoke({ metadata, handler }, input = timerInput(), triggerMetadata = undefined) {
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
    triggerMetadata,
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  // CPU time as well as wall time: on a busy machine only the former says what the run cost.
  const timing = () => {
    const { user, system } = process.cpuUsage(cpu);
    return { ms: performance.now() - started, cpuMs: (user + system) / 1000 };
  };
  try {
    await handler(input, context);
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

function timerInput() {
  return {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: "", next: "", lastUpdated: "" },
  };
}

/** Invokes a queue trigger once per visible message of its queue; none without a connection string. */
async function drainQueue(fn) {
  const trigger = triggerOf(fn);
  const connectionString = process.env[trigger.connection];
  if (!connectionString || !/QueueEndpoint=|UseDevelopmentStorage=/.test(connectionString))
    return [];
  // Resolved from this repository's node_modules: the packaged app brings its own bundled copy.
  const { QueueClient } = require("@azure/storage-queue");
  const queue = new QueueClient(connectionString, trigger.queueName);
  const invocations = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ visibilityTimeout: 600 });
    const [message] = receivedMessageItems;
    if (!message) break;
    const text = Buffer.from(message.messageText, "base64").toString("utf8");
    let input = text;
    try {
      input = JSON.parse(text);
    } catch {
      // Not JSON: the handler gets the text, as the Node.js worker hands it over.
    }
    const metadata = { dequeueCount: message.dequeueCount, id: message.messageId };
    const invocation = await invoke(fn, input, metadata);
    if (invocation.ok) await queue.deleteMessage(message.messageId, message.popReceipt);
    invocations.push(invocation);
  }
  return invocations;
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
    const isTimer = (fn) => triggerOf(fn)?.type === "timerTrigger";
    for (const fn of registered.filter(isTimer)) result.invocations.push(await invoke(fn));
    for (const fn of registered.filter((f) => triggerOf(f)?.type === "queueTrigger")) {
      result.invocations.push(...(await drainQueue(fn)));
    }
  }
  // Peak resident memory of this process (the app and this stand-in), in MB (Linux reports KB).
  result.maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`functionsHost: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
