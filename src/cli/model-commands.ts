/** `convlens summary` and `convlens predict`: one model file, no site. */
import { selectBackend } from '../engine/backend.ts';
import { loadAnyModel } from '../models/keras.ts';
import { classifierHead } from '../models/heads.ts';
import { readClassNames, readModelMetadata } from '../pipeline/labels.ts';
import { summaryJson, summaryText } from './summary.ts';
import { collectImages, parseScaling, predictFiles } from './predict.ts';
import { commandHelp, type Parsed, UsageError } from './args.ts';

export async function runModelCommand(command: 'summary' | 'predict', values: Parsed['values'], positionals: string[]): Promise<number> {
  const engine = await selectBackend({ cli: values.backend as string | undefined, env: process.env.CONVLENS_BACKEND });
  if (!values.json) console.error(engine.line);
  if (command === 'summary') {
    if (positionals.length !== 1) throw new UsageError(`summary takes one model file\n\n${commandHelp('summary')}`);
    const model = await loadAnyModel(positionals[0]);
    console.log(values.json ? JSON.stringify(summaryJson(model), null, 2) : summaryText(model));
    return 0;
  }
  if (positionals.length < 2) throw new UsageError(`predict takes a model and at least one image or folder\n\n${commandHelp('predict')}`);
  // One sigmoid unit read as two classes, logits through a softmax (models/heads.ts), as report reads them.
  const { model, multiLabel } = classifierHead(await loadAnyModel(positionals[0]));
  // Teachable Machine's metadata.json beside model.json (or labels.txt beside keras_model.h5): its labels and
  // [-1, 1] scaling, unless --classes / --scale say otherwise — as `report` reads them.
  const metadata = readModelMetadata(positionals[0]);
  const predictions = await predictFiles(model, collectImages(positionals.slice(1)), {
    classes: typeof values.classes === 'string' ? readClassNames(values.classes, process.cwd()) : metadata?.labels,
    scaling: typeof values.scale === 'string' ? parseScaling(values.scale) : metadata?.scaling,
    classesFrom: typeof values.classes === 'string' ? '--classes' : metadata?.labels ? `the labels of ${metadata.file}` : undefined,
    multiLabel,
  });
  if (values.json) console.log(JSON.stringify(predictions, null, 2));
  else {
    if (multiLabel) console.log('multi-label model: each class its own probability (one sigmoid unit per class)');
    for (const p of predictions) {
      console.log(p.file);
      for (const t of p.top) console.log(`  ${(t.probability * 100).toFixed(2).padStart(6)} %  ${t.label}`);
    }
  }
  return 0;
}
