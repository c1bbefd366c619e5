// `npm run detections -- <command>`: the detection tooling's one entry point. Each subcommand
// lives in its own module; this file only dispatches.
import { detectionTestCommand } from "../sandbox/detectionTests";

const COMMANDS: Record<string, { summary: string; run: (args: string[]) => number }> = {
  test: {
    summary: "run each detection's sample-event tests (<rule>.tests.yaml beside the rule)",
    run: detectionTestCommand,
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)}${c.summary}`);
  return ["usage: npm run detections -- <command>", "commands:", ...lines].join("\n");
}

function main(argv: string[]): number {
  const [name, ...args] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    console.error(name === undefined ? usage() : `unknown command '${name}'\n${usage()}`);
    return 2;
  }
  return command.run(args);
}

process.exitCode = main(process.argv.slice(2));
