/**
 * `report --compare`: a report against the previous one, read from a folder or over HTTP. Real reports of a small
 * three-colour classifier (computed by the CLI) against: itself, itself with two output columns swapped (exactly the
 * images predicted as those two classes flip), itself with a layer added, a conv bias changed (the maps move), an
 * unreachable URL, an empty site and a report.json as convlens's first version wrote it.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Changes } from '../../src/manifest/changes.ts';
import { readManifest } from '../../src/manifest/read.ts';
import { reportJson } from '../../src/manifest/report-json.ts';
import { saveModel } from '../../src/models/io.ts';
import { agreement, compareWithPrevious, peakMoved, reportIndex } from '../../src/pipeline/compare/compare.ts';
import { changesMarkdown } from '../../src/pipeline/compare/markdown.ts';
import { openPrevious } from '../../src/pipeline/compare/previous.ts';
import { npyBytes, parseNpy } from '../../src/render/npy.ts';
import { colourCnn3, writeColourImages3 } from '../helpers/colour-model.ts';
import { runNode } from '../helpers/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'convlens-compare-'));
const tsx = resolve('node_modules/tsx/dist/cli.mjs');

/** The model with one more layer: an identity 1x1 conv after the first (same predictions, one more layer). */
function withExtraLayer(): tf.LayersModel {
  const base = colourCnn3();
  const m = tf.sequential({ name: 'colour_cnn3' });
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [8, 8, 3], filters: 3, kernelSize: 1, activation: 'relu', weights: base.getLayer('conv').getWeights() }));
  m.add(tf.layers.conv2d({ name: 'conv_extra', filters: 3, kernelSize: 1, activation: 'relu', weights: [tf.eye(3).reshape([1, 1, 3, 3]), tf.zeros([3])] }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tf.layers.dense({ name: 'out', units: 3, activation: 'softmax', weights: base.getLayer('out').getWeights() }));
  return m;
}

/** The model whose conv filters all fire on the grey background too (bias +1): other maps, same predictions. */
function withBias(): tf.LayersModel {
  const m = colourCnn3();
  const [k] = m.getLayer('conv').getWeights();
  m.getLayer('conv').setWeights([k, tf.tensor1d([1, 1, 1])]);
  return m;
}

/** Compute a report of `variant` (the model saved as model/ so that every variant has the model id 'model'). */
async function computeReport(name: string, model: tf.LayersModel): Promise<string> {
  const modelDir = join(dir, `${name}-model`, 'model');
  await saveModel(model, modelDir);
  const work = join(dir, `${name}-work`);
  const r = await runNode([tsx, 'scripts/report.ts', 'compute', '--model', join(modelDir, 'model.json'), '--data', join(dir, 'images'), '--work-dir', work, '--no-cache', '--jobs', '1']);
  expect(r.status, r.stderr).toBe(0);
  return work;
}

/** What a built site holds for a later comparison: each model's report.json, the root index, generated/. */
function siteFolder(work: string, name: string): string {
  const site = join(dir, name);
  const manifest = readManifest(join(work, 'manifest.json'));
  for (const m of manifest.models) {
    mkdirSync(join(site, 'models', m.slug), { recursive: true });
    writeFileSync(join(site, 'models', m.slug, 'report.json'), JSON.stringify(reportJson(m, manifest)));
  }
  writeFileSync(join(site, 'report.json'), JSON.stringify(reportIndex(manifest)));
  cpSync(join(work, 'public', 'generated'), join(site, 'generated'), { recursive: true });
  return site;
}

async function compare(work: string, previous: string) {
  const manifest = readManifest(join(work, 'manifest.json'));
  return Changes.parse(await compareWithPrevious({ manifest, publicDir: join(work, 'public'), site: openPrevious(previous, dir) }));
}

let works: Record<'base' | 'again' | 'swapped' | 'extra' | 'bias', string>;
let baseSite: string;
let server: Server;
let requests: string[] = [];
let url: string;

beforeAll(async () => {
  await writeColourImages3(dir);
  works = {
    base: await computeReport('base', colourCnn3()),
    again: await computeReport('again', colourCnn3()),
    swapped: await computeReport('swapped', colourCnn3([0, 1])),
    extra: await computeReport('extra', withExtraLayer()),
    bias: await computeReport('bias', withBias()),
  };
  baseSite = siteFolder(works.base, 'site-base');
  // The previous site published over HTTP: a static server on 127.0.0.1 that records what is asked of it.
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    try {
      res.end(readFileSync(join(baseSite, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/site\//, ''))));
    } catch {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/site/`;
}, 300_000);

afterAll(() => server?.close());

describe('report --compare', () => {
  it('the same model twice: nothing flips, every map agrees (ρ = 1), no peak moves, no layer changes', async () => {
    const c = await compare(works.again, baseSite);
    expect(c.status).toBe('compared');
    const [m] = c.models;
    expect(m).toMatchObject({ id: 'model', status: 'compared', flipped: [], probabilityChanges: [], confusion: [], recall: [], moved: [] });
    expect(m.samples.compared).toBeGreaterThanOrEqual(3);
    expect(m.explanations.length).toBeGreaterThanOrEqual(10);
    for (const e of m.explanations) expect({ method: e.method, rho: e.spearman, low: e.minSpearman, moved: e.peakMoved }).toEqual({ method: e.method, rho: 1, low: 1, moved: 0 });
    expect(m.architecture).toEqual({ added: [], removed: [], changed: [], params: [m.architecture!.params[0], m.architecture!.params[0]] });
    expect(m.accuracy).toEqual({ before: 1, after: 1 });
    for (const f of m.faithfulness) expect([f.deletion[0], f.insertion[0]]).toEqual([f.deletion[1], f.insertion[1]]);
    expect(changesMarkdown(c, (p) => p)).toContain('No prediction flipped');
  });

  it('two output columns swapped: exactly the samples predicted as those two classes flip, listed first in changes.md', async () => {
    const before = readManifest(join(works.base, 'manifest.json')).models[0];
    const after = readManifest(join(works.swapped, 'manifest.json')).models[0];
    const c = await compare(works.swapped, baseSite);
    const [m] = c.models;
    const classes = before.dataset.classes;
    expect(classes).toEqual(['blue', 'green', 'red']);
    // Every sample in both reports whose previous prediction was blue or green, and only those.
    const common = after.samples.filter((s) => before.samples.some((b) => b.id === s.id));
    const expected = common.filter((s) => [0, 1].includes(before.samples.find((b) => b.id === s.id)!.predicted)).map((s) => s.id).sort();
    expect(expected.length).toBeGreaterThanOrEqual(2);
    expect(common.some((s) => before.samples.find((b) => b.id === s.id)!.predicted === 2)).toBe(true);
    expect(m.flipped.map((f) => f.sample).sort()).toEqual(expected);
    for (const f of m.flipped) {
      expect([f.before.label, f.after.label].sort()).toEqual(['blue', 'green']);
      // The swap moves each probability to the other column: the top probability is the same number.
      expect(f.after.probability).toBeCloseTo(f.before.probability, 5);
    }
    expect(m.accuracy!.before).toBe(1);
    expect(m.accuracy!.after).toBeCloseTo(1 / 3, 6);
    expect(m.recall.map((r) => r.class).sort()).toEqual(['blue', 'green']);
    expect(m.confusion).toContainEqual({ true: 'blue', predicted: 'green', before: 0, after: 2 });
    expect(m.confusion).toContainEqual({ true: 'blue', predicted: 'blue', before: 2, after: 0 });
    const md = changesMarkdown(c, (p) => `https://example.org/r${p}`);
    const firstFlip = md.indexOf(`| [${m.flipped[0].sample}](https://example.org/r/models/model/samples/${m.flipped[0].slug}/)`);
    expect(firstFlip).toBeGreaterThan(0);
    expect(firstFlip).toBeLessThan(md.indexOf('accuracy 100.0 % → 33.3 %'));
    expect(md).toContain(`**${m.flipped.length} predictions flipped.**`);
    expect(md).toContain('(https://example.org/r/models/model/changes/)');
    expect(md).toMatch(/- confusions changed: (blue as green 0 → 2, green as blue 0 → 2|green as blue 0 → 2, blue as green 0 → 2)/);
    // The flipped samples' old maps beside their new ones (identical here: each explains the class its model predicted).
    expect(m.moved.map((x) => x.sample).sort()).toEqual(expected);
    for (const x of m.moved) expect(x.spearman).toBe(1);
  });

  it('a layer added: listed with its shape and parameters; the predictions stay', async () => {
    const [m] = (await compare(works.extra, baseSite)).models;
    expect(m.flipped).toEqual([]);
    expect(m.architecture!.added).toEqual([{ name: 'conv_extra', className: 'Conv2D', outputShape: [8, 8, 3], params: 12 }]);
    expect(m.architecture!.removed).toEqual([]);
    expect(m.architecture!.params[1] - m.architecture!.params[0]).toBe(12);
  });

  it('maps that moved: low ρ, the old map redrawn from its array beside the new one', async () => {
    const [m] = (await compare(works.bias, baseSite)).models;
    expect(m.flipped).toEqual([]);
    expect(Math.min(...m.explanations.map((e) => e.spearman))).toBeLessThan(0.9);
    expect(m.moved.length).toBeGreaterThan(0);
    for (const x of m.moved) {
      expect(x.spearman).toBeLessThan(0.99);
      expect(x.before.src).toMatch(new RegExp(`^/generated/model/changes/${x.slug}-${x.method}\\.webp$`));
      expect(x.after.src).toBe(`/generated/model/samples/${x.slug}/${x.method}.webp`);
      expect(readFileSync(join(works.bias, 'public', x.before.src)).subarray(8, 12).toString()).toBe('WEBP');
    }
  });

  it('over HTTP: the same answer as from the folder, reading only report.json files and .npy maps', async () => {
    requests = [];
    const remote = await compare(works.swapped, url);
    const local = await compare(works.swapped, baseSite);
    expect(remote.previous).toBe(url);
    expect({ ...remote, previous: '' }).toEqual({ ...local, previous: '' });
    expect(requests.length).toBeGreaterThan(10);
    for (const r of requests) expect(r).toMatch(/(report\.json|\.npy)$/);
  });

  it('an unreachable URL, an empty site and a missing folder: no comparison, said plainly', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const down = await compare(works.base, `http://127.0.0.1:${port}/`);
    expect(down).toMatchObject({ status: 'unavailable', models: [] });
    expect(down.note).toMatch(/ECONNREFUSED/);
    const empty = await compare(works.base, `${url.replace(/site\/$/, '')}nothing/`);
    expect(empty.status).toBe('unavailable');
    expect(empty.note).toMatch(/holds no convlens report/);
    expect(changesMarkdown(empty, (p) => p)).toMatch(/No comparison: .*holds no convlens report.*This report was built without one/s);
    expect(() => openPrevious(join(dir, 'no-such-site'), dir)).toThrow(/no such folder/);
  });

  it("a previous report.json as convlens's first version wrote it: compared from its top 5 and maps' usual places, with a note", async () => {
    const site = siteFolder(works.base, 'site-v1');
    const file = join(site, 'models/model/report.json');
    const r = JSON.parse(readFileSync(file, 'utf8'));
    delete r.version;
    for (const s of r.samples) {
      delete s.slug;
      delete s.maps;
      delete s.probabilities;
    }
    writeFileSync(file, JSON.stringify(r));
    const [m] = (await compare(works.swapped, site)).models;
    expect(m.status).toBe('compared');
    expect(m.note).toMatch(/report\.json version 1.*top 3/);
    expect(m.flipped.length).toBeGreaterThanOrEqual(2);
    expect(m.explanations.length).toBeGreaterThanOrEqual(10);
    // A report.json this version cannot read: a clear note, no crash.
    writeFileSync(file, JSON.stringify({ version: 7, model: 'model', samples: 'elsewhere' }));
    const [bad] = (await compare(works.swapped, site)).models;
    expect(bad.status).toBe('unreadable');
    expect(bad.note).toMatch(/previous report\.json \(version 7\) cannot be read by this convlens \(report\.json version 2\)/);
  });
});

describe('compare helpers', () => {
  it('reads .npy files as NumPy writes them (float32 and float64) and as convlens writes them', () => {
    const py = "import numpy as np, sys; np.save(sys.argv[1], np.arange(6, dtype=np.float32).reshape(2, 3) / 4); np.save(sys.argv[2], np.array([[1.5, -2.25]]))";
    execFileSync('/usr/bin/python3', ['-c', py, join(dir, 'a.npy'), join(dir, 'b.npy')]);
    const a = parseNpy(readFileSync(join(dir, 'a.npy')));
    expect(a.shape).toEqual([2, 3]);
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(Array.from(a.data)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    const b = parseNpy(readFileSync(join(dir, 'b.npy')));
    expect(b.data).toBeInstanceOf(Float64Array);
    expect(Array.from(b.data)).toEqual([1.5, -2.25]);
    const own = parseNpy(npyBytes(new Float32Array([3, 1, 2]), [3]));
    expect([own.shape, Array.from(own.data)]).toEqual([[3], [3, 1, 2]]);
    expect(() => parseNpy(new Uint8Array([1, 2, 3]))).toThrow(/not a \.npy/);
  });

  it('maps agree by Spearman ρ; identical maps agree fully, constant ones included', () => {
    expect(agreement([0, 0, 0], [0, 0, 0])).toBe(1);
    expect(agreement([0, 0, 0], [1, 2, 3])).toBe(0);
    expect(agreement([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(agreement([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    // ρ of [1,2,3,4] and [1,3,2,4]: 1 − 6·Σd²/(n(n²−1)) = 1 − 6·2/60 = 0.8.
    expect(agreement([1, 2, 3, 4], [1, 3, 2, 4])).toBe(0.8);
  });

  it('a peak moves when it travels more than an eighth of the larger side', () => {
    const at = (y: number, x: number) => Float32Array.from({ length: 16 * 16 }, (_, i) => (i === y * 16 + x ? 1 : 0));
    expect(peakMoved(at(4, 4), at(4, 6), 16, 16)).toBe(false); // 2 px = 1/8 of 16: not more
    expect(peakMoved(at(4, 4), at(4, 7), 16, 16)).toBe(true);
    expect(peakMoved(at(0, 0), at(2, 2), 16, 16)).toBe(true); // 2.83 px
  });
});
