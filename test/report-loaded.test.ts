/**
 * A user's model, loaded from model.json, through the whole report: every visualization runs and the site
 * builds (issue: every item runs on a model loaded from model.json).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveModel } from '../src/models/io.ts';
import { useBackend } from './helpers/backends.ts';
import { runNode } from './helpers/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'convlens-loaded-'));

/** 8x8 RGB → conv 1x1 (red − blue, blue − red) ReLU → GAP → Dense softmax: class 0 = blue, 1 = red (sorted folder names). */
function colourCnn(): tf.LayersModel {
  const m = tf.sequential({ name: 'colour_cnn' });
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [8, 8, 3], filters: 2, kernelSize: 1, activation: 'relu' }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tf.layers.dense({ name: 'out', units: 2, activation: 'softmax' }));
  m.getLayer('conv').setWeights([tf.tensor4d([1, -1, 0, 0, -1, 1], [1, 1, 3, 2]), tf.tensor1d([0, 0])]);
  m.getLayer('out').setWeights([tf.tensor2d([[-4, 4], [4, -4]]), tf.tensor1d([0, 0])]);
  return m;
}

beforeAll(async () => {
  await useBackend('wasm');
  await saveModel(colourCnn(), join(dir, 'colour'));
  for (const [cls, colour] of [['blue', '#2030e0'], ['red', '#e03020']] as const) {
    mkdirSync(join(dir, 'images', cls), { recursive: true });
    for (let i = 0; i < 3; i++) {
      // A coloured square on grey, at a different place each time.
      const square = await sharp({ create: { width: 6, height: 6, channels: 3, background: colour } }).png().toBuffer();
      await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } })
        .composite([{ input: square, left: 2 + 3 * i, top: 5 }]).png().toFile(join(dir, 'images', cls, `${i}.png`));
    }
  }
});

describe('report on a loaded model', () => {
  it('explains a model.json on an image folder with every method', async () => {
    const out = join(dir, 'site');
    const run = await runNode([resolve('node_modules/tsx/dist/cli.mjs'), 'scripts/report.ts', '--model', join(dir, 'colour', 'model.json'), '--data', join(dir, 'images'), '--out', out], { CONVLENS_WORK_DIR: join(dir, 'work') });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'models/colour-loaded/report.json'), 'utf8'));
    expect(report.metrics.accuracy).toBe(1);
    expect(report.dataset.classes).toEqual(['blue', 'red']);
    expect(report.camLayer).toBe('conv');
    expect(Object.keys(report.samples[0].faithfulness)).toHaveLength(10);
    for (const s of report.samples) expect(existsSync(join(out, s.file))).toBe(true);
    expect(existsSync(join(out, 'models/colour-loaded/layers/conv/index.html'))).toBe(true);
    expect(existsSync(join(out, `models/colour-loaded/samples/${report.samples[0].id.replace(/[^a-z0-9]+/g, '-')}/index.html`))).toBe(true);
  });

  it('names the problem when classes and outputs disagree', async () => {
    const run = await runNode([resolve('node_modules/tsx/dist/cli.mjs'), 'scripts/report.ts', '--model', join(dir, 'colour', 'model.json'), '--data', join(dir, 'images'), '--classes', 'a,b,c', '--out', join(dir, 'x')], { CONVLENS_WORK_DIR: join(dir, 'work2') });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/3 classes \(a, b, c\) but .*model.json has 2 outputs/);
  });
});
