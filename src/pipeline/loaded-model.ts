/**
 * A user's trained model in the report: model.json, Keras 2 .h5 or Keras 3 .keras, explained on an image
 * folder (class sub-folders, or a flat folder of unlabeled images). The folder's class names must match the
 * model's outputs when it is labeled; images are resized to the model's input.
 */
import { basename } from 'node:path';
import { loadImageFolder } from '../data/folder.ts';
import type { Dataset } from '../data/dataset.ts';
import { slugify } from '../manifest/slug.ts';
import { loadAnyModel } from '../models/keras.ts';
import type { ModelSpec } from './model-report.ts';

export interface LoadedModelOptions {
  modelPath: string;
  dataDir: string;
  /** Class names when the folder has none (flat folder); default: the sub-folder names. */
  classes?: string[];
  scaling?: '/255' | '[-1,1]';
  seed: number;
}

/** The model's slug from its path: `<file name>-loaded`, or `<folder>-loaded` for a model.json. */
export function loadedModelSlug(modelPath: string): string {
  const name = basename(modelPath).replace(/\.(json|h5|hdf5|keras)$/i, '');
  return slugify(`${name === 'model' ? basename(modelPath.replace(/\/model\.json$/, '')) : name}-loaded`);
}

export async function loadedModelSpec(o: LoadedModelOptions): Promise<ModelSpec> {
  const model = await loadAnyModel(o.modelPath);
  const [, h, w, c] = model.inputs[0].shape as number[];
  if (!h || !w || (c !== 1 && c !== 3)) {
    throw new Error(`${o.modelPath}: input shape [${model.inputs[0].shape.map(String)}] is not an image [batch, height, width, 1 or 3]`);
  }
  const outputs = model.outputs[0].shape[1] as number;
  const folder = await loadImageFolder({ dir: o.dataDir, imageSize: [h, w], channels: c as 1 | 3, scaling: o.scaling });
  const classes = o.classes ?? (folder.labeled ? folder.classes : Array.from({ length: outputs }, (_, i) => String(i)));
  if (classes.length !== outputs) {
    throw new Error(`${o.dataDir}: ${classes.length} classes (${classes.join(', ')}) but ${o.modelPath} has ${outputs} outputs; name the classes with --classes`);
  }
  // Unlabeled images: label each by the model's own prediction is not done here; they keep label 0 for display.
  const test: Dataset = {
    ...folder,
    classes,
    numClasses: classes.length,
    labels: folder.labeled ? folder.labels : new Int32Array(folder.count),
  };
  return {
    slug: loadedModelSlug(o.modelPath),
    title: `${model.name} (loaded from ${basename(o.modelPath)})`,
    architecture: `${model.name}: ${model.layers.length} layers, loaded from ${basename(o.modelPath)}`,
    description: `A trained model loaded from ${o.modelPath}, explained on the images in ${o.dataDir}.`,
    identity: { loaded: o.modelPath },
    build: () => model,
    test,
    classifier: true,
    seed: o.seed,
  };
}
