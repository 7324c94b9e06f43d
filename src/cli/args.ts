/**
 * The `convlens` command line from one definition: every command's options (for `node:util` parseArgs), its
 * usage line and its help text. Unknown options and commands are refused with a did-you-mean.
 */
import { parseArgs } from 'node:util';
import { suggest } from '../config/load.ts';

export class UsageError extends Error {}

interface OptionDef {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder in the help text (string options). */
  value?: string;
  help: string;
}

const BACKEND: OptionDef = { type: 'string', value: 'node-gpu|node|wasm|cpu', help: 'TensorFlow.js engine (default: the fastest that loads; also CONVLENS_BACKEND)' };
const CONFIG: OptionDef = { type: 'string', value: 'file', help: 'convlens.config.ts, .mjs or .json (default: convlens.config.* in this folder)' };
const OUT: OptionDef = { type: 'string', value: 'dir', help: "where the site goes (default: the config's out, else dist)" };
const BASE: OptionDef = { type: 'string', value: '/path/', help: "serve the site under a sub-path, as GitHub project Pages do (default: CONVLENS_SITE_URL's path)" };
const CLASSES: OptionDef = { type: 'string', value: 'a,b,…|labels.txt', help: 'class names: a comma-separated list or a file with one per line' };
const SCALE: OptionDef = { type: 'string', value: '/255|[-1,1]|tf|caffe|torch|mean=…/std=…', help: "how pixel values become model inputs, as Keras's preprocess_input (default /255; [-1,1] from Teachable Machine's metadata.json or labels.txt; caffe for VGG) or PyTorch's Normalize (mean=0.485,0.456,0.406/std=0.229,0.224,0.225)" };

const COMPUTE_OPTIONS: Record<string, OptionDef> = {
  config: CONFIG,
  model: { type: 'string', value: 'file', help: 'explain this model instead of a config: model.json (TensorFlow.js layers or graph model), .h5 (Keras 2), .keras (Keras 3) or .onnx (PyTorch via torch.onnx.export)' },
  data: { type: 'string', value: 'folder', help: 'images for --model: class sub-folders (labeled) or a flat folder of photos (unlabeled)' },
  classes: CLASSES,
  scale: SCALE,
  samples: { type: 'string', value: 'n', help: 'photos of an unlabeled folder to explain (default 32, in file-name order)' },
  backend: BACKEND,
  epochs: { type: 'string', value: 'n', help: "epochs of the default report's LeNet-5 (default 3)" },
  seed: { type: 'string', value: 'n', help: 'seed of every random choice (default 2)' },
  only: { type: 'string', value: 'model,…', help: 'compute only these models (slugs)' },
  'no-cache': { type: 'boolean', help: 'recompute everything instead of reusing cached models and reports' },
  budget: { type: 'string', value: 'seconds', help: "seconds each model's explanations should take on a 2-core machine (default 150; 'off': no trim): optional work is trimmed to fit (listed on the model page)" },
  jobs: { type: 'string', value: 'n', help: 'parallel processes (default: one per core; models, or the samples of one loaded model)' },
  shard: { type: 'string', value: 'k/n', help: "compute only shard k of n (whole models, or one loaded model's samples), for a CI matrix" },
  'work-dir': { type: 'string', value: 'dir', help: 'where compute writes its manifest and images (default .convlens/site)' },
};
const COMPARE: OptionDef = { type: 'string', value: 'site', help: "compare with the previous report: an earlier site's folder (a kept dist/) or the URL of the published one; writes changes.json, changes.md and a What changed page per model" };
const SITE_OPTIONS: Record<string, OptionDef> = { out: OUT, base: BASE, config: CONFIG, 'work-dir': COMPUTE_OPTIONS['work-dir'], compare: COMPARE };

export interface CommandDef {
  usage: string;
  summary: string;
  description?: string;
  options: Record<string, OptionDef>;
  positionals: 'none' | 'some';
}

export const COMMANDS: Record<string, CommandDef> = {
  init: {
    usage: 'convlens init [--model file] [--data folder] [--classes …]',
    summary: 'Write convlens.config.ts and a GitHub Actions workflow here (never overwrites)',
    description: 'Writes a commented convlens.config.ts (model, data, classes, scaling, methods, samples) and\n' +
      '.github/workflows/convlens.yml (build on push, cache .convlens/, publish dist/ to GitHub Pages),\n' +
      'and adds .convlens/ and dist/ to .gitignore. Refuses to overwrite a file that exists.',
    options: { model: COMPUTE_OPTIONS.model, data: COMPUTE_OPTIONS.data, classes: CLASSES },
    positionals: 'none',
  },
  report: {
    usage: 'convlens report [--config file] [--out dir] [--base /path/] | convlens report --model file --data folder',
    summary: 'Compute everything and build the site (compute + site)',
    description: 'The site is built in a temporary folder and swapped into --out only when everything succeeded;\n' +
      'a failed run names the cause and leaves the previous site as it was. Generated files and caches\n' +
      'live in .convlens/ (in convlens\'s own checkout: content/generated, public/generated, .cache).',
    options: { ...COMPUTE_OPTIONS, out: OUT, base: BASE, compare: COMPARE },
    positionals: 'none',
  },
  compute: {
    usage: 'convlens compute [--config file] [--shard k/n --work-dir dir]',
    summary: 'Only the pipeline: train or load, evaluate, visualize, write the manifest',
    options: COMPUTE_OPTIONS,
    positionals: 'none',
  },
  site: {
    usage: 'convlens site [--out dir] [--base /path/]',
    summary: 'Only the site, from the last compute',
    options: SITE_OPTIONS,
    positionals: 'none',
  },
  merge: {
    usage: 'convlens merge <work dir> <work dir> … [--out dir] [--base /path/]',
    summary: "Join the work dirs of 'compute --shard k/n' runs and build the site",
    options: SITE_OPTIONS,
    positionals: 'some',
  },
  summary: {
    usage: 'convlens summary <model.json|model.h5|model.keras> [--json]',
    summary: 'Keras-style summary of a model file',
    description: 'Prints layer, class, output shape and parameter count, with totals; --json prints\n' +
      '{layers:[{name, className, outputShape, params}], totalParams, trainableParams}.',
    options: { json: { type: 'boolean', help: 'machine-readable output' }, backend: BACKEND },
    positionals: 'some',
  },
  predict: {
    usage: 'convlens predict <model> <image files or folders…> [--classes …] [--scale …] [--json]',
    summary: 'Top-5 classes per image',
    description: "Images are resized to the model's input and scaled by --scale (default /255).",
    options: {
      classes: CLASSES,
      scale: { type: 'string', value: '/255|[-1,1]|tf|caffe|torch|mean=…/std=…|none', help: SCALE.help },
      json: { type: 'boolean', help: 'print [{file, top:[{index, label, probability}]}]' },
      backend: BACKEND,
    },
    positionals: 'some',
  },
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'convlens <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'convlens <command> --help' for a command's options; 'convlens --version' for the version.",
  ].join('\n');
}

export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  const rows = Object.entries(c.options).map(([opt, d]) => [`--${opt}${d.value ? ` <${d.value}>` : ''}`, d.help]);
  rows.push(['--help, -h', 'this text']);
  const width = Math.min(36, Math.max(...rows.map(([a]) => a.length)));
  return [
    `Usage: ${c.usage}`,
    '',
    c.summary + '.',
    ...(c.description ? ['', c.description] : []),
    '',
    'Options:',
    ...rows.map(([a, b]) => (a.length > width ? `  ${a}\n  ${''.padEnd(width)}  ${b}` : `  ${a.padEnd(width)}  ${b}`)),
  ].join('\n');
}

export interface Parsed {
  command: string;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parse `argv` (after the program name): a command, then its options. Throws UsageError with a did-you-mean. */
export function parseCommandLine(argv: string[]): Parsed | { help: string } | { version: true } {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') return { version: true };
  if (!command || command === '--help' || command === '-h' || command === 'help') return { help: mainHelp() };
  const def = COMMANDS[command];
  if (!def) {
    const hint = suggest(command, Object.keys(COMMANDS));
    throw new UsageError(`unknown command '${command}'${hint ? ` (did you mean '${hint}'?)` : ''}\n\n${mainHelp()}`);
  }
  if (rest.includes('--help') || rest.includes('-h')) return { help: commandHelp(command) };
  const known = Object.keys(def.options);
  for (const arg of rest) {
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    const name = arg.slice(2).split('=')[0];
    if (!known.includes(name)) {
      const hint = suggest(name, known);
      throw new UsageError(`${command}: unknown option '--${name}'${hint ? ` (did you mean '--${hint}'?)` : ''}; 'convlens ${command} --help' lists the options`);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(Object.entries(def.options).map(([k, d]) => [k, { type: d.type, ...(d.short ? { short: d.short } : {}) }])),
    });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message.split('\n')[0]}; 'convlens ${command} --help' lists the options`);
  }
  if (def.positionals === 'none' && parsed.positionals.length > 0) {
    throw new UsageError(`${command}: unexpected argument '${parsed.positionals[0]}'; 'convlens ${command} --help' lists the options`);
  }
  return { command, values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}

/** An integer option, or `fallback`. */
export function intValue(values: Parsed['values'], name: string, fallback?: number): number | undefined {
  const v = values[name];
  if (v == null) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n)) throw new UsageError(`--${name}: expected an integer, found '${String(v)}'`);
  return n;
}
