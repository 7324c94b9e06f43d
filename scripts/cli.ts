/**
 * The `convlens` command. Subcommands so far: `summary` and `predict` (issue 3); `report` runs the full
 * pipeline and site (scripts/report.ts).
 */
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/engine/backend.ts';
import { loadAnyModel } from '../src/models/keras.ts';
import { summaryJson, summaryText } from '../src/cli/summary.ts';
import { collectImages, parseScaling, predictFiles } from '../src/cli/predict.ts';

const HELP: Record<string, string> = {
  main: `convlens <command> [options]

Commands:
  summary <model>                 Keras-style summary of model.json (TensorFlow.js), .h5 (Keras 2) or .keras (Keras 3)
  predict <model> <images|folder> Top-5 classes per image
  report                          Compute everything and build the site (npm run report)
  compute                         Only the pipeline: train/load, evaluate, visualize, write the manifest
  site                            Only the site, from the last compute, into --out
  merge <work dirs…>              Join the outputs of 'compute --shard k/n' runs and build the site

Run 'convlens <command> --help' for the options of one command.`,
  summary: `convlens summary <model.json|model.h5|model.keras> [--json] [--backend <id>]

Prints layer, class, output shape and parameter count, with totals; --json prints
{layers:[{name, className, outputShape, params}], totalParams, trainableParams}.`,
  report: `convlens report|compute|site [--config convlens.config.ts] [--out dist] [--backend <id>] [--epochs 5] [--seed 2]
                               [--only <model,…>] [--no-cache] [--jobs <n>] [--shard k/n] [--work-dir <dir>]
       convlens report --model <model.json|model.h5|model.keras> --data <image folder> [--classes a,b,…] [--scale /255|[-1,1]]
       convlens merge <work dir> <work dir> … [--out dist] [--config …]

report = compute + site. The site is built in a temporary folder and swapped into --out only when it succeeded.
--config     convlens.config.ts (defineConfig), .mjs or .json: models, data, samples, methods, layers
--jobs       models computed in parallel processes (default: one per core, at most one per model)
--shard k/n  compute only shard k of n (models balanced by estimated cost); write to --work-dir, then
             'convlens merge' the work dirs of all shards into one site (a CI matrix)`,
  predict: `convlens predict <model> <image files or folders…> [--classes a,b,…] [--scale /255|[-1,1]|none] [--json] [--backend <id>]

Prints the top 5 classes per image; --json prints [{file, top:[{index, label, probability}]}].
Images are resized to the model's input and scaled by --scale (default /255).`,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP.main);
    return command ? 0 : 1;
  }
  if (command === 'report' || command === 'compute' || command === 'site' || command === 'merge') {
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(HELP.report);
      return 0;
    }
    process.argv = [process.argv[0], 'report.ts', command, ...rest];
    await import('./report.ts');
    return 0;
  }
  if (!(command in HELP) || command === 'main') {
    console.error(`convlens: unknown command '${command}'\n\n${HELP.main}`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      backend: { type: 'string' },
      classes: { type: 'string' },
      scale: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(HELP[command]);
    return 0;
  }
  const engine = await selectBackend({ cli: values.backend, env: process.env.CONVLENS_BACKEND });
  if (!values.json) console.error(engine.line);
  if (command === 'summary') {
    if (positionals.length !== 1) throw new Error(`summary takes one model file\n\n${HELP.summary}`);
    const model = await loadAnyModel(positionals[0]);
    console.log(values.json ? JSON.stringify(summaryJson(model), null, 2) : summaryText(model));
    return 0;
  }
  if (positionals.length < 2) throw new Error(`predict takes a model and at least one image or folder\n\n${HELP.predict}`);
  const model = await loadAnyModel(positionals[0]);
  const predictions = await predictFiles(model, collectImages(positionals.slice(1)), {
    classes: values.classes?.split(',').map((c) => c.trim()),
    scaling: values.scale ? parseScaling(values.scale) : undefined,
  });
  if (values.json) console.log(JSON.stringify(predictions, null, 2));
  else {
    for (const p of predictions) {
      console.log(p.file);
      for (const t of p.top) console.log(`  ${(t.probability * 100).toFixed(2).padStart(6)} %  ${t.label}`);
    }
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`convlens: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
