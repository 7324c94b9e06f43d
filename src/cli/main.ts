/** Dispatch of the `convlens` command: parse (src/cli/args.ts), then run one command; returns the exit code. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../home.ts';
import { parseCommandLine, UsageError } from './args.ts';

export async function runCli(argv: string[]): Promise<number> {
  let command = argv[0] ?? '';
  try {
    const parsed = parseCommandLine(argv);
    if ('version' in parsed) {
      console.log(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version);
      return 0;
    }
    if ('help' in parsed) {
      console.log(parsed.help);
      return argv.length ? 0 : 1;
    }
    command = parsed.command;
    const { values, positionals } = parsed;
    switch (command) {
      case 'init': {
        const { initProject } = await import('./init.ts');
        initProject(process.cwd(), values as { model?: string; data?: string; classes?: string }, (line) => console.log(line));
        return 0;
      }
      case 'summary':
      case 'predict': {
        const { runModelCommand } = await import('./model-commands.ts');
        return await runModelCommand(command, values, positionals);
      }
      default: {
        const { ReportRun } = await import('./report.ts');
        await new ReportRun(command as 'report', values, positionals).run();
        return 0;
      }
    }
  } catch (err) {
    const e = err as Error;
    console.error(e instanceof UsageError ? `convlens: ${e.message}` : `convlens ${command} failed: ${e.message}`);
    if (process.env.CONVLENS_DEBUG) console.error(e.stack);
    return e instanceof UsageError ? 2 : 1;
  }
}
