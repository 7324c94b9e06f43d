/**
 * The layer view: for every layer, activation grids and fused maps per sample, channel statistics over all
 * samples, filters, and activation maximization of the first channels of chosen conv layers. Activations are
 * captured a memory-sized chunk of samples at a time (one pass keeps every layer's output) and copied out, so the
 * heap holds one chunk's activations at once.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerView } from '../../manifest/schema.ts';
import { uniqueSlugs } from '../../manifest/slug.ts';
import { colorize } from '../../render/colormap.ts';
import { asRgb, grid, type Raster } from '../../render/image.ts';
import { minMax, standardizeChannel } from '../../render/normalize.ts';
import { allActivations, channelStats } from '../../viz/activations.ts';
import { isSpatial } from '../../viz/graph.ts';
import type { Passes } from '../../viz/types.ts';
import { addPasses } from './types.ts';
import { featureMs } from '../cost-model.ts';
import type { Plan, View, ViewContext } from './types.ts';
import { CONV, channelsOf } from './util.ts';

type Values = Map<string, { shape: number[]; data: Float32Array }>;

/** Every shown layer's output for every sample, copied out of the heap a chunk of samples at a time. */
function captureActivations(ctx: ViewContext): Values {
  const { model, x, plan } = ctx;
  const [S, H, W, C] = x.shape;
  const chunk = Math.max(1, ctx.limits?.gradient ?? S);
  const values: Values = new Map();
  for (let s0 = 0; s0 < S; s0 += chunk) {
    const n = Math.min(chunk, S - s0);
    const xs = n === S ? x : (tf.slice(x, [s0, 0, 0, 0], [n, H, W, C]) as tf.Tensor4D);
    const acts = allActivations(model, xs);
    try {
      for (const [name, a] of Object.entries(acts)) {
        if (plan.wanted && !plan.wanted.has(name)) continue;
        const per = a.size / n;
        let entry = values.get(name);
        if (!entry) values.set(name, (entry = { shape: [S, ...a.shape.slice(1)], data: new Float32Array(per * S) }));
        entry.data.set(a.dataSync() as Float32Array, s0 * per);
      }
    } finally {
      tf.dispose(Object.values(acts));
      if (xs !== x) xs.dispose();
    }
  }
  return values;
}

/** Grids (the first `gridChannels` channels), full-size channel images of sample 0, fused maps, statistics. */
function spatialViews(ctx: ViewContext, view: LayerView, slug: string, a: { shape: number[]; data: Float32Array }): void {
  const { plan, samples, out } = ctx;
  const [, h, w, k] = a.shape;
  view.stats = channelStats(a.data, k);
  const shown = Math.min(k, plan.size.gridChannels);
  const columns = Math.ceil(Math.sqrt(shown));
  samples.forEach((sample, s) => {
    const tiles: Raster[] = [];
    const fusedMap = new Float32Array(h * w);
    for (let c = 0; c < k; c++) {
      const ch = new Float32Array(h * w);
      for (let p = 0; p < h * w; p++) {
        ch[p] = a.data[((s * h * w + p) * k) + c];
        fusedMap[p] += ch[p];
      }
      if (c >= shown) continue;
      tiles.push({ data: colorize(Float32Array.from(standardizeChannel(ch), (t) => t / 255), 'viridis'), width: w, height: h, channels: 3 });
      if (s === 0 && c < plan.size.channelImages) view.channels.push(out.image(`layers/${slug}/channel-${c}`, tiles[c], `${view.layer} channel ${c} for ${samples[0].id}`));
    }
    view.grids.push({
      sample: sample.slug,
      image: out.image(`layers/${slug}/grid-${sample.slug}`, grid(tiles, columns, 1), shown < k ? `The first ${shown} of ${k} channels of ${view.layer} for ${sample.id}` : `All ${k} channels of ${view.layer} for ${sample.id}`, s === 0 ? 'png' : 'webp'),
      columns,
      tile: [w, h],
      ...(shown < k ? { channels: shown } : {}),
    });
    view.fused.push({
      sample: sample.slug,
      image: out.image(`layers/${slug}/fused-${sample.slug}`, { data: colorize(minMax(fusedMap), 'viridis'), width: w, height: h, channels: 3 }, `Sum of the channels of ${view.layer} for ${sample.id}`),
    });
  });
}

/** Channels per call of activation maximization in a layer: the memory plan's gradient batch, more for early layers. */
function actmaxBatch(plan: Plan, layer: string): number {
  const images = Math.max(1, plan.opts.actmax?.images ?? 1);
  return Math.max(1, Math.floor((plan.limits?.gradient ?? plan.opts.sampleIndices.length) / images / Math.max(1e-6, plan.layerFraction.get(layer) ?? 1)));
}

/** Activation maximization in one layer: its passes to the layer and the Fourier parametrisation's work, in ms. */
function actmaxPasses(plan: Plan, layer: string, channels: number): Passes {
  const images = Math.max(1, plan.opts.actmax?.images ?? 1);
  const k = Math.min(plan.actmax.maxChannels, channels) * images;
  return { forward: 0, gradient: 0, ms: featureMs(plan.opts.model, layer, k, plan.actmax.steps, actmaxBatch(plan, layer) * images, plan.costTable) };
}

/** Feature images of the first channels of one conv layer, a memory-sized batch of channels at a time. */
function actmaxOf(ctx: ViewContext, view: LayerView, slug: string, channels: number): void {
  const { plan, out } = ctx;
  const [H, W, C] = ctx.data.shape;
  const k = Math.min(channels, plan.actmax.maxChannels);
  const per = actmaxBatch(plan, view.layer);
  for (let c0 = 0; c0 < k; c0 += per) {
    const list = Array.from({ length: Math.min(per, k - c0) }, (_, i) => c0 + i);
    const r = ctx.feature(list.map((c) => ({ kind: 'channel' as const, layer: view.layer, channel: c })));
    const n = r.rows / list.length;
    list.forEach((c, i) => {
      for (let j = 0; j < n; j++) {
        const row = i * n + j;
        view.actmax.push({
          channel: c,
          value: r.values[row],
          image: out.image(`layers/${slug}/actmax-${c}${j > 0 ? `-${j + 1}` : ''}`, { data: r.bytes.subarray(row * H * W * C, (row + 1) * H * W * C), width: W, height: H, channels: C as 1 | 3 }, `Input that maximises ${view.layer} channel ${c}${n > 1 ? ` (image ${j + 1} of ${n})` : ''}`),
        });
      }
    });
  }
  ctx.tick(`actmax ${view.layer}`, ctx.unit(actmaxPasses(plan, view.layer, channels)));
}

/** The samples' capture pass, and the grids and statistics of every shown layer (JS work). */
function gridPasses(plan: Plan, sampleCount: number): Passes {
  return { forward: 0, capture: sampleCount, gradient: 0, ms: sampleCount * plan.drawn * (plan.costTable.drawValue ?? 0) };
}

export const layersView: View = {
  id: 'layers',
  scope: 'model',
  section: 'models/<model>/layers/<layer>/ (#activations, #channels, #filters, #activation-maximization)',
  enabled: () => true,
  cost(plan, { sampleCount }) {
    const model = plan.opts.model;
    return [...plan.maxLayers].reduce((t, name) => addPasses(t, actmaxPasses(plan, name, channelsOf(model, name))), gridPasses(plan, sampleCount));
  },
  run(ctx) {
    const { model, plan } = ctx;
    const values = captureActivations(ctx);
    const slugs = uniqueSlugs(model.layers.map((l) => l.name));
    const perLayer = ctx.unit(gridPasses(plan, ctx.samples.length)) / Math.max(1, model.layers.length);
    model.layers.forEach((layer, li) => {
      ctx.tick(layer.name, perLayer);
      const a = values.get(layer.name);
      if (!a) return;
      values.delete(layer.name);
      const view: LayerView = { layer: layer.name, grids: [], channels: [], fused: [], vectors: [], actmax: [] };
      if (a.shape.length === 4) spatialViews(ctx, view, slugs[li], a);
      else if (a.shape.length === 2) {
        const units = a.shape[1];
        view.stats = channelStats(a.data, units);
        view.vectors = ctx.samples.map((sample, s) => ({ sample: sample.slug, values: Array.from(a.data.subarray(s * units, (s + 1) * units)) }));
      }
      const filters = filterImage(layer);
      if (filters) view.filters = ctx.out.image(`layers/${slugs[li]}/filters`, filters.raster, `${filters.what} of ${layer.name}`, 'png');
      if (CONV.has(layer.getClassName()) && a.shape.length === 4 && plan.maxLayers.has(layer.name)) actmaxOf(ctx, view, slugs[li], a.shape[3]);
      ctx.result.layerViews.push(view);
    });
    if (Number.isFinite(plan.size.gridChannels) && model.layers.some((l) => isSpatial(l) && channelsOf(model, l.name) > plan.size.gridChannels)) {
      plan.notes.push(`Activation grids: the first ${plan.size.gridChannels} channels of wider layers (the statistics table lists every channel).`);
    }
    ctx.stage(`activations, filters and activation maximization of ${ctx.result.layerViews.length} layers`);
  },
};

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
