/**
 * `convlens` with a config file through the real command: two shards computed separately and merged into one
 * site (the CI-matrix path), config-selected methods and layers, and a config typo that fails before any work and
 * leaves the previous site intact.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runNode } from '../helpers/run.ts';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';

const bin = resolve('scripts/convlens.mjs');
const dir = mkdtempSync(join(tmpdir(), 'convlens-config-run-'));
const run = (...args: string[]) => runNode([bin, ...args], {}, 600_000);

const config = {
  seed: 5,
  models: [
    { id: 'tiny-shapes', title: 'TinyVGG <b>on</b> shapes', zoo: 'tiny-vgg', dataset: { kind: 'shapes', train: 64, validation: 16, test: 20, size: 32 }, training: { epochs: 1, batchSize: 16 }, actmax: { maxChannels: 2, steps: 4 } },
    { id: 'random-shapes', zoo: 'random-cnn', dataset: { kind: 'shapes', test: 10, size: 32 }, actmax: { maxChannels: 2, steps: 4 } },
  ],
  samples: { perClass: 1, mistakes: 1 },
  methods: { occlusion: false, 'integrated-gradients': { steps: 8 }, 'smoothgrad-saliency': { samples: 4 }, 'score-cam': { maxChannels: 4 } },
};

describe('convlens with a config, sharded and merged', () => {
  const out = join(dir, 'site');

  it('two shards computed apart and merged give one site with both models', async () => {
    const file = join(dir, 'convlens.config.json');
    writeFileSync(file, JSON.stringify(config));
    const a = await run('compute', '--config', file, '--shard', '1/2', '--work-dir', join(dir, 's1'));
    expect(a.status, a.stderr).toBe(0);
    const b = await run('compute', '--config', file, '--shard', '2/2', '--work-dir', join(dir, 's2'));
    expect(b.status, b.stderr).toBe(0);
    // Each shard computed one model (balanced by cost: the trained one and the untrained one).
    const m1 = JSON.parse(readFileSync(join(dir, 's1', 'manifest.json'), 'utf8'));
    const m2 = JSON.parse(readFileSync(join(dir, 's2', 'manifest.json'), 'utf8'));
    expect([m1.models.map((m: { slug: string }) => m.slug), m2.models.map((m: { slug: string }) => m.slug)]).toEqual([['tiny-shapes'], ['random-shapes']]);
    const merged = await run('merge', join(dir, 's1'), join(dir, 's2'), '--out', out, '--config', file);
    expect(merged.status, merged.stderr).toBe(0);
    const home = readFileSync(join(out, 'index.html'), 'utf8');
    expect(home).toContain('href="/models/tiny-shapes/"');
    expect(home).toContain('href="/models/random-shapes/"');
    expect(home).toContain('TinyVGG &lt;b&gt;on&lt;/b&gt; shapes'); // a name from the config is text, not markup
    const report = JSON.parse(readFileSync(join(out, 'models/tiny-shapes/report.json'), 'utf8'));
    expect(report.seed).toBe(5);
    // The config's method choices: occlusion skipped, IG with 8 steps.
    const methods = report.methods.map((m: { id: string }) => m.id);
    expect(methods).toHaveLength(ATTRIBUTION_METHODS.length - 1);
    expect(methods).not.toContain('occlusion');
    expect(report.methods.find((m: { id: string }) => m.id === 'integrated-gradients').params).toEqual({ steps: 8, baseline: 'black' });
    expect(existsSync(join(out, 'models/random-shapes/layers/conv2d-1/index.html'))).toBe(true);
    expect(existsSync(join(out, 'build-info.json'))).toBe(true);
  }, 600_000);

  it('a config typo fails before any work, names the key, and leaves the site intact', async () => {
    const before = readFileSync(join(out, 'index.html'), 'utf8');
    const file = join(dir, 'typo.config.mjs');
    writeFileSync(file, `export default ${JSON.stringify({ ...config, models: [{ ...config.models[0], trainig: { epochs: 2 } }] })};\n`);
    const r = await run('report', '--config', file, '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${file}: invalid config`);
    expect(r.stderr).toContain(`models[0].trainig: unknown key (did you mean 'training'?)`);
    expect(r.stdout).not.toContain('engine:');
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toBe(before);
  }, 120_000);

  it("a layer the model does not have is named with the model's layers", async () => {
    const file = join(dir, 'layers.config.json');
    writeFileSync(file, JSON.stringify({ ...config, models: [config.models[1]], layers: ['conv2d_9'] }));
    const r = await run('compute', '--config', file, '--work-dir', join(dir, 's3'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/layers: the model \S+ has no layer 'conv2d_9'; its layers are .*conv2d_1/);
  }, 120_000);

  it('images too small for the architecture are named with the layer that comes out empty', async () => {
    const file = join(dir, 'small.config.json');
    writeFileSync(file, JSON.stringify({ ...config, models: [{ id: 'small', zoo: 'random-cnn', dataset: { kind: 'shapes', test: 5, size: 16 } }] }));
    const r = await run('compute', '--config', file, '--work-dir', join(dir, 's4'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`models[0]: layer 'max_pooling2d_2' of small has an empty output [null,0,0,9]: the input [16,16,3] is too small for this architecture; use larger images`);
  }, 120_000);

  it('a CAM layer that is not spatial is named with the spatial layers', async () => {
    const file = join(dir, 'cam.config.json');
    writeFileSync(file, JSON.stringify({ ...config, models: [{ ...config.models[0], camLayer: 'flatten' }] }));
    const r = await run('compute', '--config', file, '--work-dir', join(dir, 's5'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/camLayer: 'flatten' is not a layer with a spatial output in tiny_vgg; its spatial layers are .*relu_2_2/);
  }, 120_000);
});

