/**
 * A user's trained model in the report: model.json, Keras 2 .h5 or Keras 3 .keras, explained on an image
 * folder. Class sub-folders are a labeled test set (full evaluation); a flat folder is the user's photos,
 * unlabeled: each photo gets its top-5 predictions and every explanation, and nothing pretends to be an
 * accuracy. Class names come from the sub-folders, `classes` (a list or a file of lines) or a Teachable Machine
 * `metadata.json` beside the model. Nested models are flattened so their inner layers get pages.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import { listImageFiles, loadImageFolder } from '../data/folder.ts';
import { checkNormalize, type Dataset, parseScaling, type Scaling } from '../data/dataset.ts';
import { slugify } from '../manifest/slug.ts';
import { loadAnyModel, modelFiles } from '../models/keras.ts';
import { flattenModel } from '../models/flatten.ts';
import { classifierHead } from '../models/heads.ts';
import type { ModelSpec } from './model-report.ts';
import type { SpecEntry } from './shards.ts';
import { readClassNames, readModelMetadata } from './labels.ts';

/** Content hashes of files (names relative to `base`): a CI checkout resets dates, not contents. */
function contentStamps(files: string[], base: string): Array<[string, string]> {
  return files.map((f) => [relative(base, f).split(sep).join('/'), createHash('sha256').update(readFileSync(f)).digest('hex').slice(0, 20)]);
}

export interface LoadedModelOptions {
  modelPath: string;
  dataDir: string;
  /** Class names: a comma-separated list or a file with one per line (default: sub-folders or metadata.json). */
  classes?: string | string[];
  /** One of SCALINGS, `mean=…/std=…`, or Normalize's arguments (config `scale`). */
  scaling?: string | Scaling;
  /** Where the scaling was given, for errors (default --scale). */
  scalingKey?: string;
  seed: number;
  /** Unlabeled photos explained at most (default 32, file-name order). */
  samplesMax?: number;
  /** Paths are resolved from here and shown relative to it. */
  cwd: string;
  title?: string;
}

export const DEFAULT_PHOTOS = 32;

/** Samples per local process for a small model (see SpecEntry.samplesPerJob). */
export const MIN_SAMPLES_PER_JOB = 4;

/** A path as the report may show it: relative to the working directory, never the build machine's absolute path. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, resolve(cwd, path));
  if (rel === '' ) return '.';
  // Outside the working directory: only the last two parts (a CI runner's home is nobody's business).
  if (rel.startsWith('..') || resolve(rel) === rel) return resolve(cwd, path).split(sep).slice(-2).join('/');
  return rel.split(sep).join('/');
}

/** The model's name from its file: `flowers.h5` → flowers, `my-model/model.json` → my-model. */
export function modelName(modelPath: string): string {
  const file = basename(modelPath).replace(/\.(json|h5|hdf5|keras)$/i, '');
  return file === 'model' ? basename(dirname(resolve(modelPath))) : file;
}

/** The model's slug from its path. */
export function loadedModelSlug(modelPath: string): string {
  return slugify(modelName(modelPath)) || 'model';
}

function scalingOption(value: string | Scaling | undefined, where: string, channels: number): Scaling | undefined {
  if (value == null) return undefined;
  const s = typeof value === 'string' ? parseScaling(value, where) : value;
  if (typeof s === 'object') checkNormalize(s, where, channels);
  return s;
}

export async function loadedModelSpec(o: LoadedModelOptions): Promise<ModelSpec> {
  const modelPath = resolve(o.cwd, o.modelPath);
  const dataDir = resolve(o.cwd, o.dataDir);
  const shownModel = displayPath(modelPath, o.cwd);
  const shownData = displayPath(dataDir, o.cwd);
  const metadata = readModelMetadata(modelPath);
  const loaded = await loadAnyModel(modelPath);
  // Nested models opened up; one sigmoid unit read as two classes, logits through a softmax (models/heads.ts).
  const flat = flattenModel(loaded);
  const { model, note, multiLabel } = classifierHead(flat);
  const [, h, w, c] = model.inputs[0].shape as number[];
  if (!h || !w || (c !== 1 && c !== 3)) {
    throw new Error(`${modelPath}: input shape [${model.inputs[0].shape.map(String)}] is not an image [batch, height, width, 1 or 3]`);
  }
  const outShape = model.outputs[0].shape;
  if (model.outputs.length !== 1 || outShape.length !== 2 || !((outShape[1] ?? 0) >= 1)) {
    throw new Error(
      `${modelPath}: its output${model.outputs.length > 1 ? 's' : ''} ${model.outputs.map((o) => `[${o.shape.map((d) => d ?? 'batch').join(', ')}]`).join(' and ')} ` +
        `${model.outputs.length > 1 ? 'are' : 'is'} not one vector of class scores [batch, classes]; convlens explains image classifiers (for a feature extractor, add a classification head)`,
    );
  }
  const outputs = outShape[1] as number;
  const scaling = scalingOption(o.scaling, o.scalingKey ?? '--scale', c) ?? metadata?.scaling ?? '/255';
  const max = o.samplesMax ?? DEFAULT_PHOTOS;
  const folder = await loadImageFolder({ dir: dataDir, imageSize: [h, w], channels: c as 1 | 3, scaling, limitUnlabeled: max });
  const given = typeof o.classes === 'string' ? readClassNames(o.classes, o.cwd) : o.classes;
  const classes = given ?? (folder.labeled ? folder.classes : metadata?.labels ?? Array.from({ length: outputs }, (_, i) => `class ${i}`));
  const source = given ? 'the given classes' : folder.labeled ? 'its sub-folders' : metadata?.labels ? `the labels of ${metadata.file}` : undefined;
  if (classes.length !== outputs) {
    throw new Error(
      `${dataDir}: ${classes.length} classes (${classes.join(', ')})${source ? ` from ${source}` : ''}, but ${modelPath} has ${outputs} outputs; ` +
        'name the classes in output order with --classes a,b,… or --classes labels.txt',
    );
  }
  if (folder.labeled && given && given.join() !== folder.classes.join()) {
    throw new Error(`${dataDir}: its class folders (${folder.classes.join(', ')}) differ from the given classes (${given.join(', ')}); rename the folders or drop --classes`);
  }
  const test: Dataset = { ...folder, name: shownData, classes, numClasses: classes.length };
  const name = o.title ?? modelName(modelPath);
  const nested = loaded.layers.length !== flat.layers.length ? `, ${flat.layers.length} once its nested models are opened` : '';
  const head = note ? `; ${note}` : '';
  const photos = folder.labeled
    ? `the ${folder.count} labeled test images in ${shownData}/ (one folder per class)`
    : `${folder.count} unlabeled photos in ${shownData}/${folder.total > folder.count ? ` (the first ${folder.count} of ${folder.total}, in file-name order)` : ''}`;
  if (loaded !== flat) loaded.dispose();
  return {
    slug: loadedModelSlug(modelPath),
    title: name,
    architecture: `${loaded.layers.length} layers${nested}, loaded from ${shownModel}${head}`,
    description: `Your trained model, loaded from ${shownModel}, explained on ${photos}.`,
    identity: { loaded: shownModel },
    build: () => model,
    test,
    classifier: true,
    ...(multiLabel ? { multiLabel: true } : {}),
    labeled: folder.labeled,
    dataName: shownData,
    omittedSamples: folder.total - folder.count,
    samples: folder.labeled ? undefined : { perClass: 0, mistakes: 0, ids: test.ids },
    seed: o.seed,
  };
}

/** The report entry of a loaded model, with a cache recipe from the model's files and the folder's images. */
export function loadedModelEntry(o: LoadedModelOptions, explain: Partial<Pick<ModelSpec, 'samples' | 'methods' | 'layers' | 'memory' | 'budget'>> & { camLayer?: string; actmax?: ModelSpec['actmax']; slug?: string; summaryOnly?: boolean; configKey?: string }): SpecEntry {
  const slug = explain.slug ?? loadedModelSlug(o.modelPath);
  const modelPath = resolve(o.cwd, o.modelPath);
  const dataDir = resolve(o.cwd, o.dataDir);
  return {
    slug,
    cost: 30,
    inDefault: true,
    splitBySample: true,
    // A model of 4 MB or more (MobileNetV2 1.0: 14 MB; Teachable Machine's: 2 MB) is split even for 2 samples.
    // A broken model folder is left to the loader, whose error names the file and the fix.
    samplesPerJob: () => {
      try {
        return modelFiles(modelPath).reduce((n, f) => n + statSync(f).size, 0) >= 4e6 ? 1 : MIN_SAMPLES_PER_JOB;
      } catch {
        return MIN_SAMPLES_PER_JOB;
      }
    },
    sampleCount: () => {
      const root = resolve(o.cwd, o.dataDir);
      const files = listImageFiles(root);
      const flat = files.every((f) => dirname(f) === root);
      if (flat) return Math.min(files.length, o.samplesMax ?? DEFAULT_PHOTOS);
      const classes = new Set(files.map((f) => dirname(f))).size;
      const s = explain.samples;
      return s?.ids?.length ?? Math.min(files.length, classes * (s?.perClass ?? 1) + (s?.mistakes ?? 2));
    },
    // What shapes the report: the options and every byte of the model's files and the images (by stamps).
    recipe: () => ({
      kind: 'loaded', options: { ...o, cwd: undefined, modelPath: displayPath(modelPath, o.cwd), dataDir: displayPath(dataDir, o.cwd) }, explain,
      model: contentStamps(modelFiles(modelPath), dirname(modelPath)), data: contentStamps(listImageFiles(dataDir), dataDir),
    }),
    make: async () => {
      const spec = await loadedModelSpec(o);
      const samples = spec.labeled === false ? spec.samples : explain.samples ?? spec.samples;
      return {
        ...spec, slug, samples,
        ...(explain.methods ? { methods: explain.methods } : {}),
        ...(explain.layers ? { layers: explain.layers } : {}),
        ...(explain.camLayer ? { camLayer: explain.camLayer } : {}),
        ...(explain.actmax ? { actmax: explain.actmax } : {}),
        ...(explain.summaryOnly ? { summaryOnly: true } : {}),
        ...(explain.configKey ? { configKey: explain.configKey } : {}),
        ...(explain.memory != null ? { memory: explain.memory } : {}),
        ...(explain.budget != null ? { budget: explain.budget } : {}),
      };
    },
  };
}
