/**
 * A user's model, loaded from model.json, through the whole report: every visualization runs and the site
 * builds (issue: every item runs on a model loaded from model.json).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveModel } from '../src/models/io.ts';
import { colourCnn, writeColourFixture } from './helpers/colour-model.ts';
import { useBackend } from './helpers/backends.ts';
import { declaredPng } from './helpers/images.ts';
import { runNode } from './helpers/run.ts';
import { ATTRIBUTION_METHODS } from '../src/viz/registry.ts';

const dir = mkdtempSync(join(tmpdir(), 'convlens-loaded-'));

beforeAll(async () => {
  await useBackend('wasm');
  await writeColourFixture(dir);
});

describe('report on a loaded model', () => {
  it('explains a model.json on an image folder with every method', async () => {
    const out = join(dir, 'site');
    const run = await runNode([resolve('node_modules/tsx/dist/cli.mjs'), 'scripts/report.ts', '--model', join(dir, 'colour', 'model.json'), '--data', join(dir, 'images'), '--out', out], { CONVLENS_WORK_DIR: join(dir, 'work') });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'models/colour/report.json'), 'utf8'));
    expect(report.metrics.accuracy).toBe(1);
    expect(report.dataset.classes).toEqual(['blue', 'red']);
    expect(report.camLayer).toBe('conv');
    expect(Object.keys(report.samples[0].faithfulness)).toHaveLength(ATTRIBUTION_METHODS.length);
    for (const s of report.samples) expect(existsSync(join(out, s.file))).toBe(true);
    expect(existsSync(join(out, 'models/colour/layers/conv/index.html'))).toBe(true);
    expect(existsSync(join(out, `models/colour/samples/${report.samples[0].id.replace(/[^a-z0-9]+/g, '-')}/index.html`))).toBe(true);
  });

  it('names the problem when classes and outputs disagree', async () => {
    const run = await runNode([resolve('node_modules/tsx/dist/cli.mjs'), 'scripts/report.ts', '--model', join(dir, 'colour', 'model.json'), '--data', join(dir, 'images'), '--classes', 'a,b,c', '--out', join(dir, 'x')], { CONVLENS_WORK_DIR: join(dir, 'work2') });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/3 classes \(a, b, c\) from the given classes, but .*model.json has 2 outputs/);
  });
});

/**
 * Bad input through the whole command: each case exits non-zero with a message naming the file (and what to do),
 * and the site built before is left exactly as it was.
 */
describe('hardening: bad models and data leave the previous site intact', () => {
  const out = join(dir, 'hardened-site');
  const report = (model: string, data: string, extra: string[] = []) =>
    runNode([resolve('node_modules/tsx/dist/cli.mjs'), 'scripts/report.ts', '--model', model, '--data', data, '--out', out, ...extra], { CONVLENS_WORK_DIR: join(dir, 'work-hard') });
  let before = '';

  /** A copy of the good model folder or image folder to break. */
  const copyModel = (name: string) => {
    const to = join(dir, 'bad-models', name);
    cpSync(join(dir, 'colour'), to, { recursive: true });
    return to;
  };
  const copyImages = (name: string) => {
    const to = join(dir, 'bad-images', name);
    cpSync(join(dir, 'images'), to, { recursive: true });
    return to;
  };
  const shardOf = (m: string) => join(m, readdirSync(m).find((f) => f.endsWith('.bin'))!);

  beforeAll(async () => {
    const ok = await report(join(dir, 'colour', 'model.json'), join(dir, 'images'));
    expect(ok.status, ok.stderr).toBe(0);
    before = readFileSync(join(out, 'models/colour/index.html'), 'utf8');
  }, 300_000);

  const cases: Array<[string, () => Promise<[string, string]> | [string, string], RegExp]> = [
    ['missing weight shard', () => {
      const m = copyModel('missing-shard');
      rmSync(shardOf(m));
      return [join(m, 'model.json'), join(dir, 'images')];
    }, /missing-shard\/weights\.bin: weight shard listed in .*missing-shard\/model\.json cannot be read \(ENOENT\)/],
    ['short weight shard', () => {
      const m = copyModel('short-shard');
      const bin = shardOf(m);
      writeFileSync(bin, readFileSync(bin).subarray(0, 10));
      return [join(m, 'model.json'), join(dir, 'images')];
    }, /shard.*(short|bytes|truncated)/i],
    ['NaN weights', async () => {
      const m = colourCnn();
      m.getLayer('out').setWeights([tf.tensor2d([[Number.NaN, 4], [4, -4]]), tf.tensor1d([0, 0])]);
      await saveModel(m, join(dir, 'bad-models', 'nan'));
      return [join(dir, 'bad-models', 'nan', 'model.json'), join(dir, 'images')];
    }, /nan\/model\.json: weight out\/kernel of layer 'out' has 1 NaN or infinite value of 4; .*retrain or export it again/],
    ['a weight path climbing out of the model folder', () => {
      // A file of exactly the right size outside the folder must not become "weights" (and filter images).
      const m = copyModel('climbing');
      const bin = shardOf(m);
      const outside = join(dir, 'secret.bin');
      writeFileSync(outside, readFileSync(bin));
      rmSync(bin);
      const json = JSON.parse(readFileSync(join(m, 'model.json'), 'utf8'));
      json.weightsManifest[0].paths = ['../../secret.bin'];
      writeFileSync(join(m, 'model.json'), JSON.stringify(json));
      return [join(m, 'model.json'), join(dir, 'images')];
    }, /climbing\/model\.json: weight path '\.\.\/\.\.\/secret\.bin' leaves the model's folder/],
    ['an absolute weight path', () => {
      const m = copyModel('absolute');
      const json = JSON.parse(readFileSync(join(m, 'model.json'), 'utf8'));
      json.weightsManifest[0].paths = [resolve(shardOf(m))];
      writeFileSync(join(m, 'model.json'), JSON.stringify(json));
      return [join(m, 'model.json'), join(dir, 'images')];
    }, /absolute\/model\.json: weight path '\/.*weights\.bin' leaves the model's folder/],
    ['unknown layer class', () => {
      const m = copyModel('unknown-layer');
      const json = JSON.parse(readFileSync(join(m, 'model.json'), 'utf8'));
      json.modelTopology.config.layers[1].class_name = 'FancyConv2D';
      writeFileSync(join(m, 'model.json'), JSON.stringify(json));
      return [join(m, 'model.json'), join(dir, 'images')];
    }, /FancyConv2D/],
    ['a model whose input is not an image', async () => {
      const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [12], units: 2, activation: 'softmax' })] });
      await saveModel(m, join(dir, 'bad-models', 'dense'));
      return [join(dir, 'bad-models', 'dense', 'model.json'), join(dir, 'images')];
    }, /input shape \[null,12\] is not an image \[batch, height, width, 1 or 3\]/],
    ['zero-byte image', () => {
      const d = copyImages('zero');
      writeFileSync(join(d, 'red', 'z.png'), Buffer.alloc(0));
      return [join(dir, 'colour', 'model.json'), d];
    }, /red\/z\.png: empty file \(0 bytes\)/],
    ['a text file named .png', () => {
      const d = copyImages('text');
      writeFileSync(join(d, 'blue', 't.png'), 'hello, not an image');
      return [join(dir, 'colour', 'model.json'), d];
    }, /blue\/t\.png: cannot be read as an image \(Input buffer contains unsupported image format\)/],
    ['a PNG declaring 20000x20000 pixels', () => {
      const d = copyImages('huge');
      writeFileSync(join(d, 'blue', 'huge.png'), declaredPng(20000, 20000));
      return [join(dir, 'colour', 'model.json'), d];
    }, /huge\.png: declares 20000x20000 pixels, over the limit of 64000000; downscale it/],
    ['a corrupt (truncated) JPEG', async () => {
      const d = copyImages('truncated');
      const jpg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#ff0000' } }).jpeg().toBuffer();
      writeFileSync(join(d, 'red', 'cut.jpg'), jpg.subarray(0, 40));
      return [join(dir, 'colour', 'model.json'), d];
    }, /red\/cut\.jpg: cannot be read as an image/],
    ['an empty class folder', () => {
      const d = copyImages('empty-class');
      mkdirSync(join(d, 'green'));
      return [join(dir, 'colour', 'model.json'), d];
    }, /class folder without images \(.jpg .*\): .*empty-class\/green\. Add images or remove the folder\./],
    ['a missing model file', () => [join(dir, 'nowhere', 'model.json'), join(dir, 'images')], /nowhere\/model\.json/],
  ];

  it.each(cases)('%s', async (_, make, message) => {
    const [model, data] = await make();
    const run = await report(model, data);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(message);
    expect(readFileSync(join(out, 'models/colour/index.html'), 'utf8')).toBe(before);
  }, 120_000);
});
