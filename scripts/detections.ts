// `npm run detections -- <command> [args]`: commands over the detection rules (one Sentinel
// analytic-rule YAML file each, functions/detections). Each command is a function of its
// arguments and an output that returns the exit code, so tests call it in process.
import { detectionTestCommand } from "../sandbox/detectionTests";
import { runCheck, type Output } from "./detectionsCheck";

const COMMANDS: Record<string, { run: (args: string[], output: Output) => number; help: string }> =
  {
    check: {
      run: runCheck,
      help: "check [FILES…]  classify each rule (runs as is, adapted, refused) with the reason",
    },
    test: {
      // The sample-event runner prints its own lines; it takes only the files.
      run: (args) => detectionTestCommand(args),
      help: "test [FILES…]   run each detection's sample-event tests (<rule>.tests.yaml)",
    },
  };

function usage(output: Output): void {
  output.err("usage: npm run detections -- <command> [args]");
  for (const { help } of Object.values(COMMANDS)) output.err(`  ${help}`);
}

/** Runs one command line (without node and the script); returns the exit code. */
export function main(argv: readonly string[], output: Output): number {
  const [name, ...args] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    if (name !== undefined) output.err(`detections: unknown command '${name}'`);
    usage(output);
    return 2;
  }
  return command.run(args, output);
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
