/**
 * Content-addressed training cache. The key hashes the model's architecture, a fingerprint of the data, the
 * training parameters, the seed and the engine (tfjs version and backend): a rerun with nothing changed loads
 * the trained model; any change trains again. Entries are tfjs layers models (src/models/io.ts) plus the
 * training history, written atomically.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ImageArrays } from '../data/batches.ts';
import { loadModel, saveModel } from '../models/io.ts';

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value != null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha256 of the pixels, labels and shape: equal data, equal fingerprint, wherever it was read from. */
export function dataFingerprint(data: ImageArrays): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ shape: data.shape, count: data.count, classes: data.numClasses }));
  h.update(data.images);
  h.update(new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength));
  return h.digest('hex');
}

export interface CacheKeyParts {
  /** The architecture: the model's Keras config (model.toJSON) or a zoo spec. */
  model: unknown;
  /** Fingerprints of the training (and validation) data. */
  data: string[];
  /** Training parameters: epochs, batch size, learning rate, schedule, augmentation, … */
  training: unknown;
  seed: number;
  backend: string;
  /** Data-parallel replicas (src/train/parallel.ts) when more than one: batch norm then sees each shard alone. */
  replicas?: number;
}

export function cacheKey(parts: CacheKeyParts): string {
  const engine = { tfjs: tf.version.tfjs, backend: parts.backend };
  return createHash('sha256').update(canonicalJson({ ...parts, engine })).digest('hex').slice(0, 32);
}

export interface CachedTraining<H> {
  model: tf.LayersModel;
  history: H;
  cached: boolean;
  key: string;
}

/**
 * Return the model trained under `key` from `dir`, or build and train it and store the result.
 * `noCache` trains regardless (and refreshes the entry).
 */
export async function trainWithCache<H>(opts: {
  dir: string;
  key: string;
  build: () => tf.LayersModel | Promise<tf.LayersModel>;
  train: (model: tf.LayersModel) => H;
  noCache?: boolean;
}): Promise<CachedTraining<H>> {
  const entry = join(opts.dir, opts.key);
  if (!opts.noCache && existsSync(join(entry, 'history.json'))) {
    const model = await loadModel(join(entry, 'model', 'model.json'));
    const history = JSON.parse(readFileSync(join(entry, 'history.json'), 'utf8')) as H;
    return { model, history, cached: true, key: opts.key };
  }
  const model = await opts.build();
  const history = opts.train(model);
  const tmp = `${entry}.writing-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await saveModel(model, join(tmp, 'model'));
  writeFileSync(join(tmp, 'history.json'), `${JSON.stringify(history)}\n`);
  rmSync(entry, { recursive: true, force: true });
  renameSync(tmp, entry);
  return { model, history, cached: false, key: opts.key };
}
