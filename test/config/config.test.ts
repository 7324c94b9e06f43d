/**
 * Config files: every error names the key, what was expected and what was found (with a "did you mean" for
 * typos); .json, .mjs and .ts (defineConfig) load; a config turns into the right models.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { configEntries } from '../../src/config/specs.ts';
import { chooseSamples } from '../../src/pipeline/model-report.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

// Inside the project: vitest's module runner imports .ts/.mjs files from the project tree only (the CLI, on tsx,
// imports them from anywhere — see test/config/report-config.test.ts).
mkdirSync('.test-tmp', { recursive: true });
const dir = mkdtempSync(join(resolve('.test-tmp'), 'config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bad = (raw: unknown) => {
  try {
    parseConfig(raw, 'convlens.config.ts');
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the config was accepted');
};

describe('config errors name the key, the expectation and what was found', () => {
  it.each([
    [{ models: [{ id: 'a', zoo: 'lenet', dataset: { kind: 'shapes' } }] }, `models[0].zoo: found "lenet" (did you mean 'lenet5'?); expected one of 'lenet5'`],
    [{ models: [{ id: 'a', zoo: 'lenet5', dataset: { kind: 'shapes', sise: 32 } }] }, `models[0].dataset.sise: unknown key (did you mean 'size'?); expected one of kind, train, validation, test, size, shortcut, clutter`],
    [{ models: [{ id: 'a', zoo: 'lenet5', dataset: { kind: 'shapes' }, training: { epoch: 3 } }] }, `models[0].training.epoch: unknown key (did you mean 'epochs'?)`],
    [{ models: [{ load: 'x/model.json', dat: 'imgs' }] }, `models[0].data: expected string, found nothing (the key is required)`],
    [{ models: [{ load: 'x/model.json', dat: 'imgs' }] }, `models[0].dat: unknown key (did you mean 'data'?)`],
    [{ samples: { perClass: 'two' } }, `samples.perClass: expected number, found string "two"`],
    [{ sed: 3 }, `sed: unknown key (did you mean 'seed'?)`],
    [{ methods: { 'grad-camm': false } }, `methods: unknown key 'grad-camm' (did you mean 'grad-cam'?)`],
    [{ methods: { 'integrated-gradients': { stepz: 3 } } }, `methods.integrated-gradients.stepz: unknown key (did you mean 'steps'?)`],
    [{ methods: { occlusion: { patch: -1 } } }, `methods.occlusion.patch:`],
    [{ models: [{ id: 'a', zoo: 'lenet5', dataset: { kind: 'mnist' } }] }, `models[0].dataset.kind: expected one of 'fashion-mnist', 'shapes', 'folder', found "mnist"`],
    [{ models: [{ id: 'Bad Id', zoo: 'lenet5', dataset: { kind: 'shapes' } }] }, `models[0].id: a slug`],
    [{ layers: [] }, `layers:`],
  ])('%j', (raw, message) => {
    const m = bad(raw);
    expect(m).toContain('convlens.config.ts: invalid config');
    expect(m).toContain(message);
  });

  it('lists every problem, not only the first', () => {
    const m = bad({ sed: 1, samples: { perClass: 'x' }, backend: 'gpu' });
    expect(m.split('\n').length).toBe(4);
    expect(m).toContain(`backend: found "gpu"`);
  });
});

describe('config files', () => {
  it('loads .json, .mjs and .ts (defineConfig) alike', async () => {
    const body = { seed: 7, models: [{ id: 'tiny', zoo: 'tiny-vgg', dataset: { kind: 'shapes', train: 40, validation: 10, test: 10, size: 32 }, training: { epochs: 1 } }] };
    writeFileSync(join(dir, 'c.json'), JSON.stringify(body));
    writeFileSync(join(dir, 'c.mjs'), `export default ${JSON.stringify(body)};\n`);
    writeFileSync(join(dir, 'c.ts'), `import { defineConfig } from '${resolve('src/config/define.ts')}';\nexport default defineConfig(${JSON.stringify(body)});\n`);
    for (const f of ['c.json', 'c.mjs', 'c.ts']) {
      const c = await loadConfig(join(dir, f));
      expect(c.seed, f).toBe(7);
      expect(c.models?.[0], f).toMatchObject({ id: 'tiny', zoo: 'tiny-vgg', training: { epochs: 1, batchSize: 32, learningRate: 1e-3 } });
    }
  });

  it('names the file when it is missing, not JSON, or has no default export', async () => {
    await expect(loadConfig(join(dir, 'nope.json'))).rejects.toThrow(`${join(dir, 'nope.json')}: config file not found`);
    writeFileSync(join(dir, 'broken.json'), '{ "seed": ');
    await expect(loadConfig(join(dir, 'broken.json'))).rejects.toThrow(`${join(dir, 'broken.json')}: not valid JSON`);
    writeFileSync(join(dir, 'nodefault.mjs'), 'export const x = 1;\n');
    await expect(loadConfig(join(dir, 'nodefault.mjs'))).rejects.toThrow('no default export');
    await expect(loadConfig(join(dir, 'c.yaml'))).rejects.toThrow('config file not found');
  });
});

describe('config → models', () => {
  it('builds a zoo model on shapes with the shortcut in training data only', async () => {
    const c = parseConfig({ seed: 3, models: [{ id: 'cheat', zoo: 'tiny-vgg', dataset: { kind: 'shapes', train: 20, validation: 10, test: 10, size: 32, shortcut: true }, training: { epochs: 2 } }] }, 'c.json');
    const [entry] = configEntries(c);
    expect(entry.slug).toBe('cheat');
    const spec = await entry.make();
    expect(spec.training?.train.name).toBe('shapes-1-shortcut');
    expect(spec.training?.validation.name).toBe('shapes-2-shortcut');
    expect(spec.test.name).toBe('shapes-3');
    expect(spec.test.shape).toEqual([32, 32, 3]);
    expect(spec.training?.epochs).toBe(2);
    expect(spec.classifier).toBe(true);
    const model = await spec.build();
    expect(model.outputs[0].shape).toEqual([null, 5]);
    model.dispose();
  });

  it("a default model's own method parameters yield to the config's, method by method", async () => {
    const entry = configEntries(parseConfig({ methods: { 'integrated-gradients': { steps: 64 }, occlusion: false } }, 'c.json')).find((e) => e.slug === 'gap-cnn-shapes')!;
    const spec = await entry.make();
    expect(spec.methods).toEqual({ 'integrated-gradients': { steps: 64 }, 'smoothgrad-saliency': { samples: 16 }, occlusion: false });
    expect(spec.localizationImages).toBe(50);
  });

  it('refuses two models with one id, and an unknown sample id names the key', async () => {
    const c = parseConfig({ models: [{ id: 'a', zoo: 'random-cnn', dataset: { kind: 'shapes', test: 5 } }, { id: 'a', zoo: 'lenet5', dataset: { kind: 'shapes' } }] }, 'c.json');
    expect(() => configEntries(c)).toThrow(`models[1].id: 'a' is used twice`);
    const one = parseConfig({ samples: { ids: ['shapes-3-1', 'shapes-3-99'] }, models: [{ id: 'r', zoo: 'random-cnn', dataset: { kind: 'shapes', test: 5, size: 32 } }] }, 'c.json');
    const spec = await configEntries(one)[0].make();
    expect(spec.classifier).toBe(false);
    expect(() => chooseSamples(spec, spec.test, undefined)).toThrow(`samples.ids[1]: no sample 'shapes-3-99' in shapes-3 (models[0]); ids look like shapes-3-0, shapes-3-1, shapes-3-2`);
    expect(chooseSamples({ ...spec, samples: { perClass: 1, mistakes: 0, ids: ['shapes-3-1'] } }, spec.test, undefined)).toEqual([1]);
  });
});
