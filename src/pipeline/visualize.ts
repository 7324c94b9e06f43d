/**
 * The visualize step for one model: pick samples, run every attribution method on them (batched), capture every
 * layer's activations, draw filters, and write images + .npy arrays under public/generated/<model>/ with their
 * manifest entries.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { nestingOf } from '../models/flatten.ts';
import { makeBatch } from '../data/batches.ts';
import type { Dataset } from '../data/dataset.ts';
import type { Asset, LayerView, ModelReport } from '../manifest/schema.ts';
import { uniqueSlugs } from '../manifest/slug.ts';
import { colorize } from '../render/colormap.ts';
import { asRgb, encode, grid, overlay, type Raster, toBytes, upscaleFor } from '../render/image.ts';
import { minMax, normalizeMap, standardizeChannel } from '../render/normalize.ts';
import { npyBytes } from '../render/npy.ts';
import { l2Penalty, maximize, totalVariation } from '../viz/activation-maximization.ts';
import { allActivations, channelStats } from '../viz/activations.ts';
import { deletionInsertion } from '../viz/metrics/faithfulness.ts';
import { localization, localizationBenchmark, pointingTolerance } from '../viz/metrics/localization.ts';
import { predictedClasses } from '../viz/target.ts';
import { cascadingRandomization } from '../viz/metrics/randomization.ts';
import { defaultCamLayer, isSpatial } from '../viz/graph.ts';
import { receptiveFields } from '../viz/receptive-field.ts';
import { ATTRIBUTION_METHODS } from '../viz/registry.ts';
import { workProgress } from './progress.ts';

const CONV = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);

/**
 * Full-size single-channel images per layer and sample 0 (the grid always shows every channel). MobileNetV2 has
 * 21,000 channels over its layers; the first 64 of each keep the site small, the stats table lists all.
 */
export const MAX_CHANNEL_IMAGES = 64;

/** Which conv layers get activation maximisation: all, or `maxLayers` spread evenly (first and last included). */
export function actmaxLayers(names: string[], maxLayers?: number): Set<string> {
  if (maxLayers == null || maxLayers >= names.length) return new Set(names);
  if (maxLayers <= 0) return new Set();
  if (maxLayers === 1) return new Set([names[names.length - 1]]);
  return new Set(Array.from({ length: maxLayers }, (_, i) => names[Math.round((i * (names.length - 1)) / (maxLayers - 1))]));
}

export interface VisualizeOptions {
  model: tf.LayersModel;
  slug: string;
  /** Test data the samples come from. */
  data: Dataset;
  /** Dataset indices of the samples to explain. */
  sampleIndices: number[];
  /** public/ folder; assets go to <publicDir>/generated/<slug>/. */
  publicDir: string;
  seed: number;
  /** Parameters per method id (defaults otherwise). */
  methodParams?: Record<string, object>;
  /** Activation maximization: channels per conv layer and ascent steps. */
  actmax?: { maxChannels: number; steps: number; maxLayers?: number };
  /** Run the attribution methods (classifiers only). */
  attributions?: boolean;
  /** Progress lines (seconds per stage). */
  log?: (line: string) => void;
  /** Attribution methods not to run (config `methods: { id: false }`). */
  skipMethods?: string[];
  /** Layers to show (config `layers`); default all. */
  layers?: 'all' | string[];
  /** Steps of the cascading randomization (default 8). */
  randomizationSteps?: number;
  /** The CAM methods' layer (default: the last conv layer's output after its activation). */
  camLayer?: string;
  /**
   * Test images on which every method's pointing game and mask energy are scored, when the data carry object
   * masks (default 100; 0 = only the report's samples).
   */
  localizationImages?: number;
  /** Where the work-unit progress goes (default stderr: a bar on a TTY, sparse lines otherwise). */
  progressStream?: NodeJS.WriteStream;
  /**
   * One part of a model split over machines by sample (`--shard k/n` on a loaded model): attributions only for
   * the samples at positions i with i mod count = index − 1; the model-wide views (layers, randomization,
   * class images, localization) only in part 1. `merge` joins the parts.
   */
  part?: { index: number; count: number };
}

/** A deterministic class-balanced pick: the first test sample of each class, then the most confident mistakes. */
export function pickSamples(data: Dataset, probs: Float32Array, perClass = 1, mistakes = 2): number[] {
  const K = data.numClasses;
  const chosen: number[] = [];
  for (let k = 0; k < K; k++) {
    let found = 0;
    for (let i = 0; i < data.count && found < perClass; i++) {
      if (data.labels[i] === k) {
        chosen.push(i);
        found++;
      }
    }
  }
  const wrong: Array<{ i: number; p: number }> = [];
  for (let i = 0; i < data.count; i++) {
    const row = probs.subarray(i * K, (i + 1) * K);
    let pred = 0;
    for (let k = 1; k < K; k++) if (row[k] > row[pred]) pred = k;
    if (pred !== data.labels[i]) wrong.push({ i, p: row[pred] });
  }
  wrong.sort((a, b) => b.p - a.p || a.i - b.i);
  for (const w of wrong.slice(0, mistakes)) if (!chosen.includes(w.i)) chosen.push(w.i);
  return chosen;
}

/** Layer rows for the manifest: summary, graph edges, config, receptive fields. */
export function layerSummaries(model: tf.LayersModel): ModelReport['layers'] {
  const fields = receptiveFields(model);
  const slugs = uniqueSlugs(model.layers.map((l) => l.name));
  const nesting = nestingOf(model);
  return model.layers.map((layer, i) => {
    const shape = layer.outputShape as (number | null)[];
    const node = layer.inboundNodes[0];
    const f = fields.get(layer.name);
    return {
      name: layer.name,
      slug: slugs[i],
      className: layer.getClassName(),
      outputShape: shape.slice(1),
      params: layer.countParams(),
      trainableParams: layer.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0),
      inbound: ((node?.inboundLayers ?? []) as tf.layers.Layer[]).map((l) => l.name),
      config: JSON.parse(JSON.stringify(layer.getConfig())) as Record<string, unknown>,
      field: f ? { rf: f.rf, jump: f.jump, start: f.start, global: f.global } : undefined,
      parents: nesting?.get(layer.name) ?? [],
    };
  });
}

class AssetWriter {
  private readonly pending: Promise<void>[] = [];
  constructor(
    private readonly publicDir: string,
    private readonly base: string,
  ) {}

  /**
   * Encode and queue a raster; returns its manifest entry at once. Page images are lossless WebP (30–60 % smaller
   * than PNG); images that pages use as their Open Graph preview stay PNG, which every link-preview service reads.
   */
  image(rel: string, r: Raster, alt: string, format: 'png' | 'webp' = 'webp'): Asset {
    const scale = upscaleFor(r.width, r.height);
    const url = `/generated/${this.base}/${rel}.${format}`;
    const path = join(this.publicDir, url);
    mkdirSync(join(path, '..'), { recursive: true });
    // Encoding runs on sharp's threads; the write is synchronous so that thousands of queued images never hold
    // thousands of open files (EMFILE on a 21,000-channel MobileNetV2).
    this.pending.push(encode(r, format, scale).then((b) => writeFileSync(path, b)));
    return { src: url, width: r.width * scale, height: r.height * scale, alt };
  }

  npy(rel: string, data: Float32Array, shape: number[]): string {
    const url = `/generated/${this.base}/${rel}.npy`;
    const path = join(this.publicDir, url);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, npyBytes(data, shape));
    return url;
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending);
  }
}

export async function visualize(opts: VisualizeOptions): Promise<Pick<ModelReport, 'samples' | 'layerViews' | 'camLayer' | 'classMax' | 'randomization' | 'localization'>> {
  const { model, data, sampleIndices, seed } = opts;
  const out = new AssetWriter(opts.publicDir, opts.slug);
  const [H, W, C] = data.shape;
  const { x } = (() => {
    const b = makeBatch(data, sampleIndices, data.scale, data.offset);
    b.y.dispose();
    return b;
  })();
  const sampleSlugs = uniqueSlugs(sampleIndices.map((i) => data.ids[i]));
  const classifier = opts.attributions ?? true;
  if (opts.camLayer != null) {
    const l = model.layers.find((x) => x.name === opts.camLayer);
    if (!l || !isSpatial(l)) {
      throw new Error(`camLayer: '${opts.camLayer}' is not a layer with a spatial output in ${model.name}; its spatial layers are ${model.layers.filter(isSpatial).map((x) => x.name).join(', ')}`);
    }
  }
  const camLayer = classifier ? opts.camLayer ?? defaultCamLayer(model) : undefined;
  const methods = ATTRIBUTION_METHODS.filter((m) => !opts.skipMethods?.includes(m.id));
  const paramsOf = new Map(methods.map((m) => [m.id, m.params.parse(opts.methodParams?.[m.id] ?? {}) as Record<string, unknown>]));
  /** What the pointing game scores: signed maps as they are, magnitude maps by magnitude (as they are drawn). */
  const scored = (method: (typeof methods)[number], raw: Float32Array) => (method.signed ? raw : raw.map(Math.abs));
  const names = new Set(model.layers.map((l) => l.name));
  const wanted = opts.layers && opts.layers !== 'all' ? new Set(opts.layers) : undefined;
  for (const name of wanted ?? []) {
    if (!names.has(name)) throw new Error(`layers: the model ${model.name} has no layer '${name}'; its layers are ${[...names].join(', ')}`);
  }
  const actmax = opts.actmax ?? { maxChannels: 16, steps: 96 };
  const maxLayers = actmaxLayers(model.layers.filter((l) => CONV.has(l.getClassName()) && isSpatial(l)).map((l) => l.name), actmax.maxLayers);
  const actmaxOptions = {
    steps: actmax.steps, stepSize: 0.01, range: data.range, seed,
    regularizers: [totalVariation(0.05), l2Penalty(0.01, (data.range[0] + data.range[1]) / 2)], jitter: { pixels: 1 },
  };
  // Work units: each method, each layer, the randomization (trained maps + steps) and the class images.
  const weighted = model.layers.filter((l) => l.trainableWeights.length > 0).length;
  const rsteps = classifier ? Math.min(opts.randomizationSteps ?? 8, weighted) + 1 : 0;
  const part = opts.part && opts.part.count > 1 ? opts.part : undefined;
  const modelViews = !part || part.index === 1;
  /** Positions (in sampleIndices) this run explains. */
  const explained = sampleIndices.map((_, s) => s).filter((s) => !part || s % part.count === part.index - 1);
  const localizationImages = modelViews && classifier && data.masks ? Math.min(opts.localizationImages ?? 100, data.count) : 0;
  const units = (classifier ? methods.length + (modelViews ? rsteps + 1 : 0) : 0) + (localizationImages > 0 ? methods.length : 0) + (modelViews ? model.layers.length : 0);
  const bar = workProgress({ label: `${opts.slug}: visualize`, total: units, stream: opts.progressStream });
  let clock = performance.now();
  const stage = (what: string) => {
    const now = performance.now();
    opts.log?.(`${opts.slug}: ${what} in ${((now - clock) / 1000).toFixed(1)} s`);
    clock = now;
  };
  try {
    const probs = classifier ? tf.tidy(() => (model.predict(x, { batchSize: x.shape[0] }) as tf.Tensor).dataSync() as Float32Array) : new Float32Array(sampleIndices.length * data.numClasses);
    const K = data.numClasses;
    const predicted = sampleIndices.map((_, s) => {
      const row = probs.subarray(s * K, (s + 1) * K);
      let p = 0;
      for (let k = 1; k < K; k++) if (row[k] > row[p]) p = k;
      return p;
    });
    const pixels = x.dataSync();
    const sampleRaster = (s: number): Raster => ({
      data: toBytes(pixels.subarray(s * H * W * C, (s + 1) * H * W * C), data.range),
      width: W,
      height: H,
      channels: C as 1 | 3,
    });

    // Attributions: every method on all (this part's) samples at once, explaining the predicted class.
    const perSample = sampleIndices.map(() => [] as ModelReport['samples'][number]['attributions']);
    const xe = explained.length === sampleIndices.length ? x : (tf.gather(x, explained) as tf.Tensor4D);
    for (const method of classifier && explained.length > 0 ? methods : []) {
      const params = paramsOf.get(method.id)!;
      const t0 = performance.now();
      const r = method.attribute({ model, x: xe, targets: explained.map((s) => predicted[s]), seed, layer: camLayer }, params as never);
      const ms = (performance.now() - t0) / explained.length;
      const maps = r.maps.dataSync() as Float32Array;
      tf.dispose([r.maps, r.channels, r.lowRes].filter(Boolean) as tf.Tensor[]);
      explained.forEach((s, e) => {
        const raw = maps.slice(e * H * W, (e + 1) * H * W);
        const norm = normalizeMap(raw, method.signed);
        const heat = colorize(norm.values, method.signed ? 'rdbu' : method.family === 'cam' ? 'turbo' : 'viridis', method.signed);
        const picture = method.family === 'cam' ? overlay(sampleRaster(s), heat, 0.5) : { data: heat, width: W, height: H, channels: 3 as const };
        const extras: Record<string, number> = Object.fromEntries(Object.entries(r.extras ?? {}).map(([k, v]) => [k, v[e]]));
        if (data.masks) {
          // Ground truth known (synthetic shapes): does the map point at the object?
          const mask = data.masks.subarray(sampleIndices[s] * H * W, (sampleIndices[s] + 1) * H * W);
          const loc = localization(scored(method, raw), mask, W, pointingTolerance(W));
          extras.pointingHit = loc.hit ? 1 : 0;
          extras.energyInside = loc.energyInside;
        }
        const xs = tf.slice(x, [s, 0, 0, 0], [1, H, W, C]) as tf.Tensor4D;
        const f = deletionInsertion(model, xs, raw, predicted[s], 16, data.range[0]);
        xs.dispose();
        if (e === 0) bar.tick(method.id);
        perSample[s].push({
          method: method.id,
          image: out.image(`samples/${sampleSlugs[s]}/${method.id}`, picture, `${method.title} for ${data.ids[sampleIndices[s]]}, class ${data.classes[predicted[s]]}`, s === 0 && method.id === 'grad-cam' ? 'png' : 'webp'),
          npy: out.npy(`samples/${sampleSlugs[s]}/${method.id}`, raw, [H, W]),
          scale: norm.scale,
          params,
          layer: method.family === 'cam' ? camLayer : undefined,
          extras,
          faithfulness: f,
          milliseconds: ms,
        });
      });
    }

    if (xe !== x) xe.dispose();
    if (classifier) stage(`${methods.length} attribution methods × ${explained.length} samples with faithfulness`);
    // Localization over many test images: a pointing game on 7 samples says little.
    let localizationResult: ModelReport['localization'];
    if (localizationImages > 0) {
      // Each chunk of test images is batched and predicted once, then explained by every method.
      const chunks = new Map<number, { x: tf.Tensor4D; targets: number[] }>();
      const chunkAt = (start: number, n: number) => {
        let c = chunks.get(start);
        if (c == null) {
          const b = makeBatch(data, Array.from({ length: n }, (_, i) => start + i), data.scale, data.offset);
          b.y.dispose();
          c = { x: b.x, targets: predictedClasses(model, b.x) };
          chunks.set(start, c);
        }
        return c;
      };
      try {
        localizationResult = localizationBenchmark({
          masks: data.masks!, labels: data.labels, width: W, height: H, count: localizationImages, chunk: 25,
          methods: methods.map((m) => m.id),
          attribute: (id, start, n) => {
            const method = methods.find((m) => m.id === id)!;
            const { x: xc, targets } = chunkAt(start, n);
            const r = method.attribute({ model, x: xc, targets, seed, layer: camLayer }, paramsOf.get(id) as never);
            const maps = (r.maps.dataSync() as Float32Array).slice();
            tf.dispose([r.maps, r.channels, r.lowRes].filter(Boolean) as tf.Tensor[]);
            return { maps: scored(method, maps), predicted: targets };
          },
          onMethod: (id) => bar.tick(`pointing game ${id}`),
        });
      } finally {
        tf.dispose([...chunks.values()].map((c) => c.x));
      }
      stage(`pointing game and mask energy of ${methods.length} methods on ${localizationImages} test images`);
    }
    const samples: ModelReport['samples'] = sampleIndices.map((index, s) => {
      const row = Array.from(probs.subarray(s * K, (s + 1) * K));
      const top = !classifier ? [] : row
        .map((p, k) => ({ index: k, label: data.classes[k], probability: p }))
        .sort((a, b) => b.probability - a.probability || a.index - b.index)
        .slice(0, 5);
      return {
        id: data.ids[index],
        slug: sampleSlugs[s],
        label: data.labels[index],
        predicted: classifier ? predicted[s] : -1,
        probability: classifier ? row[predicted[s]] : 0,
        top,
        image: out.image(`samples/${sampleSlugs[s]}/input`, sampleRaster(s), data.labels[index] >= 0 ? `Input ${data.ids[index]}, true class ${data.classes[data.labels[index]]}` : `Photo ${data.ids[index]}`),
        attributions: perSample[s],
      };
    });

    if (!modelViews) {
      // Another part computes the layers, randomization and class images.
      bar.end();
      await out.flush();
      return { samples, layerViews: [], camLayer, classMax: [], localization: undefined };
    }
    // Activations of every layer for every sample, one forward pass.
    const acts = allActivations(model, x);
    const layerSlugs = uniqueSlugs(model.layers.map((l) => l.name));
    const layerViews: LayerView[] = [];
    try {
      model.layers.forEach((layer, li) => {
        bar.tick(layer.name);
        const a = acts[layer.name];
        if (!a || (wanted && !wanted.has(layer.name))) return;
        const values = a.dataSync() as Float32Array;
        const view: LayerView = { layer: layer.name, grids: [], channels: [], fused: [], vectors: [], actmax: [] };
        const lslug = layerSlugs[li];
        if (a.rank === 4) {
          const [, h, w, k] = a.shape;
          view.stats = channelStats(values, k);
          const columns = Math.ceil(Math.sqrt(k));
          sampleIndices.forEach((_, s) => {
            const tiles: Raster[] = [];
            const fusedMap = new Float32Array(h * w);
            for (let c = 0; c < k; c++) {
              const ch = new Float32Array(h * w);
              for (let p = 0; p < h * w; p++) {
                ch[p] = values[((s * h * w + p) * k) + c];
                fusedMap[p] += ch[p];
              }
              tiles.push({ data: colorize(Float32Array.from(standardizeChannel(ch), (v) => v / 255), 'viridis'), width: w, height: h, channels: 3 });
              if (s === 0 && c < MAX_CHANNEL_IMAGES) {
                view.channels.push(out.image(`layers/${lslug}/channel-${c}`, tiles[c], `${layer.name} channel ${c} for ${samples[0].id}`));
              }
            }
            view.grids.push({
              sample: samples[s].slug,
              image: out.image(`layers/${lslug}/grid-${samples[s].slug}`, grid(tiles, columns, 1), `All ${k} channels of ${layer.name} for ${samples[s].id}`, s === 0 ? 'png' : 'webp'),
              columns,
              tile: [w, h],
            });
            view.fused.push({
              sample: samples[s].slug,
              image: out.image(`layers/${lslug}/fused-${samples[s].slug}`, { data: colorize(minMax(fusedMap), 'viridis'), width: w, height: h, channels: 3 }, `Sum of the channels of ${layer.name} for ${samples[s].id}`),
            });
          });
        } else if (a.rank === 2) {
          const units = a.shape[1] as number;
          view.stats = channelStats(values, units);
          view.vectors = sampleIndices.map((_, s) => ({ sample: samples[s].slug, values: Array.from(values.subarray(s * units, (s + 1) * units)) }));
        }
        const filters = filterImage(layer);
        if (filters) view.filters = out.image(`layers/${lslug}/filters`, filters.raster, `${filters.what} of ${layer.name}`, 'png');
        if (CONV.has(layer.getClassName()) && a.rank === 4 && maxLayers.has(layer.name)) {
          const k = Math.min(a.shape[3] as number, actmax.maxChannels);
          const r = maximize(model, Array.from({ length: k }, (_, c) => ({ kind: 'channel' as const, layer: layer.name, channel: c })), actmaxOptions);
          const imgs = r.images.dataSync();
          r.images.dispose();
          view.actmax = r.values.map((value, c) => ({
            channel: c,
            value,
            image: out.image(`layers/${lslug}/actmax-${c}`, { data: toBytes(imgs.subarray(c * H * W * C, (c + 1) * H * W * C), data.range), width: W, height: H, channels: C as 1 | 3 }, `Input that maximises ${layer.name} channel ${c}`),
          }));
        }
        layerViews.push(view);
      });
    } finally {
      tf.dispose(Object.values(acts));
    }
    stage(`activations, filters and activation maximization of ${layerViews.length} layers`);
    // Each class's logit, maximised from noise.
    if (!classifier) {
      bar.end();
      await out.flush();
      return { samples, layerViews, camLayer, classMax: [], localization: localizationResult };
    }
    // Sanity check: cascading randomization on the first samples, every method.
    const nr = Math.min(2, sampleIndices.length);
    const xr = tf.slice(x, [0, 0, 0, 0], [nr, H, W, C]) as tf.Tensor4D;
    const rnd = cascadingRandomization(model, [...methods], xr, predicted.slice(0, nr), seed, (id) => paramsOf.get(id)!, opts.randomizationSteps, (what) => bar.tick(what), camLayer);
    xr.dispose();
    stage(`cascading randomization (${rnd.steps.length} steps × ${methods.length} methods)`);
    const mapImage = (rel: string, m: Float32Array, id: string, alt: string) => {
      const method = ATTRIBUTION_METHODS.find((a) => a.id === id)!;
      const heat = colorize(normalizeMap(m, method.signed).values, method.signed ? 'rdbu' : method.family === 'cam' ? 'turbo' : 'viridis', method.signed);
      return out.image(rel, { data: heat, width: W, height: H, channels: 3 }, alt);
    };
    const randomization = {
      sample: samples[0].slug,
      original: Object.fromEntries(methods.map((m) => [m.id, mapImage(`randomization/${m.id}-trained`, rnd.original[m.id][0], m.id, `${m.title} of the trained model for ${samples[0].id}`)])),
      steps: rnd.steps.map((st, k) => ({
        layer: st.layer,
        correlation: st.correlation,
        images: Object.fromEntries(methods.map((m) => [m.id, mapImage(`randomization/${m.id}-step-${k + 1}`, st.maps[m.id][0], m.id, `${m.title} after randomising ${st.layer} and the layers above it`)])),
      })),
    };
    const cm = maximize(model, data.classes.map((_, index) => ({ kind: 'class' as const, index })), actmaxOptions);
    const cimgs = cm.images.dataSync();
    cm.images.dispose();
    const classMax = cm.values.map((value, index) => ({
      index,
      value,
      image: out.image(`classes/actmax-${index}`, { data: toBytes(cimgs.subarray(index * H * W * C, (index + 1) * H * W * C), data.range), width: W, height: H, channels: C as 1 | 3 }, `Input that maximises the ${data.classes[index]} logit`),
    }));
    bar.tick('class images');
    bar.end();
    await out.flush();
    stage('class maximization and image encoding');
    return { samples, layerViews, camLayer, classMax, randomization, localization: localizationResult };
  } finally {
    x.dispose();
  }
}

/**
 * Kernels as pictures: a first layer with 3 input channels as RGB tiles (min–max per filter),
 * otherwise one grayscale tile per (input channel, filter) — rows are input channels — and depthwise
 * kernels one tile per channel.
 */
export function filterImage(layer: tf.layers.Layer): { raster: Raster; what: string } | undefined {
  const cls = layer.getClassName();
  if (cls !== 'Conv2D' && cls !== 'DepthwiseConv2D') return undefined;
  const kernel = layer.getWeights()[0];
  const [kh, kw, cin, cout] = kernel.shape;
  const v = kernel.dataSync();
  const at = (i: number, j: number, c: number, o: number) => v[((i * kw + j) * cin + c) * cout + o];
  if (cls === 'Conv2D' && cin === 3) {
    const tiles = Array.from({ length: cout }, (_, o) => {
      const rgb = new Float32Array(kh * kw * 3);
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < 3; c++) rgb[(i * kw + j) * 3 + c] = at(i, j, c, o);
      return { data: Uint8Array.from(minMax(rgb), (t) => Math.round(t * 255)), width: kw, height: kh, channels: 3 as const };
    });
    return { raster: grid(tiles, Math.min(16, cout), 1), what: `${cout} RGB filters` };
  }
  const rows = Math.min(cin, 32);
  const cols = Math.min(cout, 32);
  const tiles: Raster[] = [];
  for (let c = 0; c < rows; c++) {
    for (let o = 0; o < cols; o++) {
      const k = new Float32Array(kh * kw);
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) k[i * kw + j] = at(i, j, c, o);
      tiles.push(asRgb({ data: Uint8Array.from(minMax(k), (t) => Math.round(t * 255)), width: kw, height: kh, channels: 1 }));
    }
  }
  const what = cls === 'DepthwiseConv2D' ? `Depthwise kernels (${rows} channels × ${cols} multipliers)` : `Kernels (rows: ${rows} input channels, columns: ${cols} filters)`;
  return { raster: grid(tiles, cols, 1), what };
}

