/** `convlens summary` and `convlens predict` through the real command (package.json bin). */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveModel } from '../src/models/io.ts';
import { useBackend } from './helpers/backends.ts';
import { runNode } from './helpers/run.ts';
import { writeKeras2H5, writeKeras3 } from './helpers/keras-writers.ts';

const bin = resolve('scripts/convlens.mjs');
const run = (...args: string[]) => runNode([bin, ...args], {}, 120_000);
const dir = mkdtempSync(join(tmpdir(), 'convlens-cli-'));

/** A 2-class model over 8x8 RGB: class 0 ⇐ red-dominant, class 1 ⇐ blue-dominant (hand-set weights). */
function colourModel(): tf.LayersModel {
  const m = tf.sequential({ name: 'colour' });
  m.add(tf.layers.globalAveragePooling2d({ inputShape: [8, 8, 3], name: 'gap' }));
  m.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'out' }));
  m.getLayer('out').setWeights([tf.tensor2d([[8, -8], [0, 0], [-8, 8]]), tf.tensor1d([0, 0])]);
  return m;
}

beforeAll(async () => {
  await useBackend('wasm');
  const m = colourModel();
  await saveModel(m, join(dir, 'tfjs'));
  await writeKeras2H5(m, join(dir, 'm.h5'));
  await writeKeras3(m, join(dir, 'm.keras'));
  mkdirSync(join(dir, 'imgs'));
  await sharp({ create: { width: 20, height: 10, channels: 3, background: '#ff0000' } }).png().toFile(join(dir, 'imgs', 'a-red.png'));
  await sharp({ create: { width: 9, height: 9, channels: 3, background: '#0000ff' } }).jpeg().toFile(join(dir, 'imgs', 'b-blue.jpg'));
  writeFileSync(join(dir, 'bad.png'), 'not a png');
  // Teachable Machine's two exports of the model: model.json with metadata.json, keras_model.h5 with labels.txt.
  await saveModel(m, join(dir, 'tm'));
  writeFileSync(join(dir, 'tm', 'metadata.json'), JSON.stringify({ tfjsVersion: '1.3.1', tmVersion: '2.4.10', packageName: '@teachablemachine/image', labels: ['red', 'blue'], imageSize: 224 }));
  mkdirSync(join(dir, 'tm-keras'));
  await writeKeras2H5(m, join(dir, 'tm-keras', 'keras_model.h5'));
  writeFileSync(join(dir, 'tm-keras', 'labels.txt'), '0 red\n1 blue\n');
});

describe('convlens CLI', () => {
  it.each(['tfjs/model.json', 'm.h5', 'm.keras'])('summary --json of %s', async (file) => {
    const r = await run('summary', join(dir, file), '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      layers: [
        { name: 'gap', className: 'GlobalAveragePooling2D', outputShape: [3], params: 0 },
        { name: 'out', className: 'Dense', outputShape: [2], params: 8 },
      ],
      totalParams: 8,
      trainableParams: 8,
    });
  });

  it('summary prints a Keras-style table', async () => {
    const r = await run('summary', join(dir, 'm.h5'));
    expect(r.stdout).toMatch(/ out \(Dense\)\s+\(None, 2\)\s+8/);
    expect(r.stdout).toContain('Total params: 8');
  });

  it('predict --json ranks classes per image (folder input)', async () => {
    const r = await run('predict', join(dir, 'm.keras'), join(dir, 'imgs'), '--classes', 'red,blue', '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Array<{ file: string; top: Array<{ index: number; label: string; probability: number }> }>;
    expect(out.map((p) => [p.file.endsWith('a-red.png'), p.top[0].label])).toEqual([[true, 'red'], [false, 'blue']]);
    // softmax([8·1 − 0, −8·1]) for pure red: p(red) = 1 / (1 + e^−16)
    expect(out[0].top[0].probability).toBeCloseTo(1 / (1 + Math.exp(-16)), 6);
    expect(out[0].top.map((t) => t.index)).toEqual([0, 1]);
  });

  it.each(['tm/model.json', 'tm-keras/keras_model.h5'])("predict reads Teachable Machine's labels and [-1, 1] scaling beside %s", async (file) => {
    const r = await run('predict', join(dir, file), join(dir, 'imgs', 'a-red.png'), '--json');
    expect(r.status, r.stderr).toBe(0);
    const [p] = JSON.parse(r.stdout) as Array<{ top: Array<{ label: string; probability: number }> }>;
    expect(p.top.map((t) => t.label)).toEqual(['red', 'blue']);
    // Pure red in [-1, 1] is (1, −1, −1): logits 8·1 + 8·1 = 16 and −16, so p(red) = 1 / (1 + e^−32) (with /255: e^−16).
    expect(p.top[1].probability).toBeCloseTo(1 / (1 + Math.exp(32)), 14);
    expect(p.top[1].probability).toBeLessThan(1e-12);
    // --scale and --classes still win.
    const given = await run('predict', join(dir, file), join(dir, 'imgs', 'a-red.png'), '--json', '--scale', '/255', '--classes', 'R,B');
    const [q] = JSON.parse(given.stdout) as Array<{ top: Array<{ label: string; probability: number }> }>;
    expect([q.top[0].label, q.top[1].probability]).toEqual(['R', expect.closeTo(1 / (1 + Math.exp(16)), 12)]);
  });

  it('errors name the file or option', async () => {
    expect((await run('predict', join(dir, 'm.h5'), join(dir, 'bad.png'))).stderr).toMatch(/bad.png: cannot be read as an image/);
    expect((await run('predict', join(dir, 'm.h5'), join(dir, 'imgs'), '--classes', 'a,b,c')).stderr).toMatch(/--classes names 3 classes but the model has 2 outputs; pass --classes with one name per output/);
    expect((await run('summary', join(dir, 'missing.keras'))).stderr).toMatch(/missing.keras: cannot read \(ENOENT\)/);
    const r = await run('frobnicate');
    expect([r.status, r.stderr.includes("unknown command 'frobnicate'")]).toEqual([2, true]);
    expect((await run('predict', '--help')).stdout).toContain('--classes');
    expect((await run('compute', '--help')).stdout).toMatch(/Usage: convlens compute[\s\S]*--shard <k\/n>/);
  });

  it('one definition drives parsing and help: typos get a did-you-mean, --version prints the version', async () => {
    const typoCommand = await run('reprot');
    expect([typoCommand.status, typoCommand.stderr]).toEqual([2, expect.stringContaining("unknown command 'reprot' (did you mean 'report'?)")]);
    const typoOption = await run('report', '--ot', 'x');
    expect([typoOption.status, typoOption.stderr]).toEqual([2, expect.stringContaining("unknown option '--ot' (did you mean '--out'?)")]);
    const missingValue = await run('report', '--out');
    expect([missingValue.status, missingValue.stderr]).toEqual([2, expect.stringMatching(/--out <value>' argument missing/)]);
    const stray = await run('init', 'extra');
    expect([stray.status, stray.stderr]).toEqual([2, expect.stringContaining("unexpected argument 'extra'")]);
    const version = await run('--version');
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(resolve('package.json'), 'utf8')).version);
    // Every command's --help lists exactly the options its parser accepts.
    const { COMMANDS } = await import('../src/cli/args.ts');
    for (const [name, def] of Object.entries(COMMANDS)) {
      const help = (await run(name, '--help')).stdout;
      for (const opt of Object.keys(def.options)) expect(help, `${name} --${opt}`).toContain(`--${opt}`);
    }
  });
});
