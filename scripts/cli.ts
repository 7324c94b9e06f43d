/** The `convlens` command: parse the command line from one definition (src/cli/args.ts) and run the command. */
import { runCli } from '../src/cli/main.ts';

process.exitCode = await runCli(process.argv.slice(2));
