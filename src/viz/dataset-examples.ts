/**
 * Dataset examples (OpenAI Microscope's and zennit-crp's core view): for each channel of a layer, the images of a
 * dataset that excite it most — by the channel's maximum over positions (with the maximising unit, so the page can
 * show the patch under it) and by its mean — and the images that excite it least (lowest mean). One batched pass
 * over the images; each chunk's activations are read and dropped, only the running top-k lists are kept.
 */
import * as tf from '@tensorflow/tfjs';
import { makeBatch } from '../data/batches.ts';
import type { Dataset } from '../data/dataset.ts';
import { runGraph } from '../engine/graph.ts';

export interface Example {
  /** Index of the image in the dataset. */
  index: number;
  value: number;
  /** The maximising unit (row, column) in the layer's grid. */
  unit: [number, number];
}

export interface ChannelExamples {
  channel: number;
  /** Highest maximum activation first. */
  max: Example[];
  /** Highest mean activation first. */
  mean: Example[];
  /** Lowest mean activation first. */
  least: Example[];
}

export interface LayerExamples {
  layer: string;
  /** The layer's grid [h, w] and channel count. */
  grid: [number, number];
  channels: ChannelExamples[];
}

/** A bounded list kept sorted by `better` (a stable insertion: earlier images win ties). */
class TopK {
  readonly items: Example[] = [];
  constructor(
    private readonly k: number,
    private readonly better: (a: number, b: number) => boolean,
  ) {}
  offer(e: Example): void {
    const { items, k } = this;
    if (items.length === k && !this.better(e.value, items[k - 1].value)) return;
    let i = items.length;
    while (i > 0 && this.better(e.value, items[i - 1].value)) i--;
    items.splice(i, 0, e);
    if (items.length > k) items.pop();
  }
}

export interface ExamplesOptions {
  /** Layers with a spatial output, and how many of their first channels to keep lists for (default: all). */
  layers: Array<{ name: string; channels?: number }>;
  /** Dataset indices to scan. */
  indices: number[];
  /** Images per list. */
  k: number;
  /** Images per forward pass (the memory plan's limit). */
  batch: number;
}

export function datasetExamples(model: tf.LayersModel, data: Dataset, opts: ExamplesOptions): LayerExamples[] {
  const names = opts.layers.map((l) => l.name);
  const state = new Map<string, { grid: [number, number]; K: number; lists: Array<{ max: TopK; mean: TopK; least: TopK }> }>();
  for (let i0 = 0; i0 < opts.indices.length; i0 += opts.batch) {
    const idx = opts.indices.slice(i0, i0 + opts.batch);
    const { x, y } = makeBatch(data, idx, data.scale, data.offset);
    y.dispose();
    const acts = tf.tidy(() => runGraph(model, x, { capture: names, captureOnly: true }).captured);
    x.dispose();
    try {
      for (const spec of opts.layers) {
        const a = acts[spec.name];
        if (a.rank !== 4) throw new Error(`dataset examples: layer '${spec.name}' has no spatial output (shape ${JSON.stringify(a.shape)})`);
        const [n, h, w, C] = a.shape;
        const K = Math.min(C, spec.channels ?? C);
        let st = state.get(spec.name);
        if (!st) {
          st = {
            grid: [h, w], K,
            lists: Array.from({ length: K }, () => ({ max: new TopK(opts.k, (u, v) => u > v), mean: new TopK(opts.k, (u, v) => u > v), least: new TopK(opts.k, (u, v) => u < v) })),
          };
          state.set(spec.name, st);
        }
        const v = a.dataSync();
        const max = new Float32Array(K);
        const arg = new Int32Array(K);
        const sum = new Float64Array(K);
        for (let b = 0; b < n; b++) {
          max.fill(-Infinity);
          sum.fill(0);
          const base = b * h * w * C;
          for (let p = 0; p < h * w; p++) {
            const row = base + p * C;
            for (let c = 0; c < K; c++) {
              const val = v[row + c];
              sum[c] += val;
              if (val > max[c]) {
                max[c] = val;
                arg[c] = p;
              }
            }
          }
          for (let c = 0; c < K; c++) {
            const unit: [number, number] = [Math.floor(arg[c] / w), arg[c] % w];
            const l = st.lists[c];
            l.max.offer({ index: idx[b], value: max[c], unit });
            const mean = sum[c] / (h * w);
            l.mean.offer({ index: idx[b], value: mean, unit });
            l.least.offer({ index: idx[b], value: mean, unit });
          }
        }
      }
    } finally {
      tf.dispose(Object.values(acts));
    }
  }
  return opts.layers.filter((l) => state.has(l.name)).map((l) => {
    const st = state.get(l.name)!;
    return {
      layer: l.name,
      grid: st.grid,
      channels: st.lists.map((x, c) => ({ channel: c, max: x.max.items, mean: x.mean.items, least: x.least.items })),
    };
  });
}

/**
 * The input box [y0, x0, y1, x1) a unit sees: its receptive field centred at start + i · jump (pixel-edge
 * coordinates), clipped to the H x W image unless `clip` is false (a crop then pads what lies outside).
 */
export function unitBox(unit: [number, number], field: { rf: [number, number]; jump: [number, number]; start: [number, number] }, H: number, W: number, clip = true): [number, number, number, number] {
  const cy = field.start[0] + unit[0] * field.jump[0];
  const cx = field.start[1] + unit[1] * field.jump[1];
  let y0 = Math.round(cy - field.rf[0] / 2);
  let x0 = Math.round(cx - field.rf[1] / 2);
  let y1 = y0 + field.rf[0];
  let x1 = x0 + field.rf[1];
  if (clip) {
    y0 = Math.max(0, y0);
    x0 = Math.max(0, x0);
    y1 = Math.max(y0 + 1, Math.min(H, y1));
    x1 = Math.max(x0 + 1, Math.min(W, x1));
  }
  return [y0, x0, y1, x1];
}
