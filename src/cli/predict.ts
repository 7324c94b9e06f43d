/** `convlens predict`: top-5 classes for image files or a folder of images, with any loadable model. */
import { readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImage, IMAGE_EXTENSIONS } from '../data/folder.ts';
import { makeBatch } from '../data/batches.ts';
import { parseScaling as parseDataScaling, type Scaling as DataScaling, scaling as scalingOf } from '../data/dataset.ts';
import { forward } from '../engine/folded.ts';

export interface Prediction {
  file: string;
  top: Array<{ index: number; label: string; probability: number }>;
}

/** How image bytes map to model inputs. */
export type Scaling = DataScaling | 'none';

export function parseScaling(value: string): Scaling {
  return value === 'none' ? 'none' : parseDataScaling(value, '--scale');
}

/** Expand folders (not recursively) into their image files, sorted; keep files as given. */
export function collectImages(inputs: string[]): string[] {
  const files: string[] = [];
  for (const input of inputs) {
    const p = resolve(input);
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) {
      const images = readdirSync(p).filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase())).sort();
      if (images.length === 0) throw new Error(`${p}: no images (${IMAGE_EXTENSIONS.join(' ')})`);
      files.push(...images.map((f) => join(p, f)));
    } else files.push(p);
  }
  return files;
}

export async function predictFiles(
  model: tf.LayersModel,
  files: string[],
  opts: { classes?: string[]; scaling?: Scaling; topK?: number; classesFrom?: string; multiLabel?: boolean } = {},
): Promise<Prediction[]> {
  const inputShape = model.inputs[0].shape;
  const [h, w, c] = inputShape.slice(1) as number[];
  if (inputShape.length !== 4 || !h || !w || (c !== 1 && c !== 3)) {
    throw new Error(`the model's input shape [${inputShape.map(String)}] is not an image [batch, height, width, 1 or 3]`);
  }
  const scaling = opts.scaling ?? '/255';
  const results: Prediction[] = [];
  for (const file of files) {
    let pixels: Uint8Array;
    try {
      pixels = await decodeImage(file, [h, w], c as 1 | 3);
    } catch (err) {
      throw new Error(`${file}: cannot be read as an image (${(err as Error).message})`);
    }
    const probs = tf.tidy(() => {
      const x = scaling === 'none'
        ? tf.tensor4d(Float32Array.from(pixels), [1, h, w, c])
        : (() => {
          const s = scalingOf(scaling);
          return makeBatch({ images: pixels, labels: Int32Array.from([0]), count: 1, shape: [h, w, c], numClasses: 1, bgr: s.bgr }, [0], s.scale, s.offset).x;
        })();
      let y = forward(model, x) as tf.Tensor;
      // Not a probability distribution (a logits head that models/heads.ts did not recognise): apply softmax so the
      // numbers read as probabilities. A multi-label head's probabilities are each class's own: kept as they are.
      if (!opts.multiLabel) {
        const sum = y.sum().dataSync()[0];
        const min = y.min().dataSync()[0];
        if (Math.abs(sum - 1) > 1e-3 || min < 0) y = tf.softmax(y);
      }
      return Array.from(y.dataSync());
    });
    if (opts.classes && opts.classes.length !== probs.length) {
      throw new Error(`${opts.classesFrom ?? '--classes'} names ${opts.classes.length} classes but the model has ${probs.length} outputs; pass --classes with one name per output, in order`);
    }
    const top = probs
      .map((probability, index) => ({ index, label: opts.classes?.[index] ?? String(index), probability }))
      .sort((a, b) => b.probability - a.probability || a.index - b.index)
      .slice(0, opts.topK ?? 5);
    results.push({ file, top });
  }
  return results;
}
