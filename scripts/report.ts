/**
 * `npm run report [-- options]`: the `report` command (or `compute`, `site`, `merge` when given first), as
 * `convlens report` runs it. `convlens report --help` lists the options.
 */
import { runCli } from '../src/cli/main.ts';

const args = process.argv.slice(2);
const modes = ['report', 'compute', 'site', 'merge'];
process.exitCode = await runCli(modes.includes(args[0]) ? args : ['report', ...args]);
