/**
 * Forward passes with batch normalization folded into the convolutions: what `model.predict` computes, in fewer
 * and cheaper kernels, for everything that needs only a model's output (evaluation, occlusion, RISE, Score-CAM,
 * deletion and ROAD curves, the pointing game, `convlens predict`).
 *
 * A convolution (Conv2D or DepthwiseConv2D, channels last, linear activation) whose only consumer is an
 * inference-mode BatchNormalization computes, per output channel c,
 *
 *   BN(conv(x, w) + b) = γ (conv(x, w) + b − μ) / √(σ² + ε) + β = conv(x, w·s) + (b − μ)·s + β,   s = γ / √(σ² + ε)
 *
 * so one fused convolution with the folded filter and bias replaces both layers, and a ReLU or ReLU6 (a ReLU layer
 * or an Activation layer) that is the normalization's only consumer goes into the same kernel (bias and clamp as
 * the output is written: the Winograd kernel's output transform, XNNPACK's fused operators). A convolution without
 * normalization followed by a ReLU takes the ReLU the same way. MobileNetV2 α0.35 at 64x64 runs 153 layers as 52
 * fused convolutions and 15 other layers. The results differ from `model.predict` by rounding only (tested: relative
 * error ~1e-6 on the built-in models and a Keras-style model); the folded weights are computed in float64 from the
 * layers' current variables and kept (as plain arrays, not tensors, so nothing is held on the engine between
 * calls) until a variable changes (every tfjs weight update — an optimizer step, setWeights, moving statistics —
 * gives the variable new data, which is what is checked).
 *
 * Models it does not understand run `model.predict` unchanged: several inputs or outputs, layers used twice,
 * nested models (convlens flattens those when it loads a model), channels-first convolutions.
 */
import * as tf from '@tensorflow/tfjs';
import { CONV_POOL, convPoolApplies } from './kernels/winograd-conv2d.ts';
import { type FusedLayers, type RunOptions, type RunResult, runGraph } from './graph.ts';
import { ortForward } from './ort/runtime.ts';

type Layer = tf.layers.Layer;
type Activation = 'linear' | 'relu' | 'relu6';

interface LayerVar {
  read(): tf.Tensor;
}

/** A fused group: conv → [batch norm] → [ReLU / ReLU6], computed as one fused convolution. */
interface Group {
  conv: Layer;
  depthwise: boolean;
  bn?: Layer;
  activation: Activation;
  /** The group's last layer: its output is the group's. */
  last: Layer;
  strides: [number, number];
  padding: 'same' | 'valid';
  dilations: [number, number];
  /** A 2x2, stride-2 valid MaxPooling2D that is the group's last layer's only consumer (forward passes pool in the convolution's kernel). */
  pool?: Layer;
}

interface Plan {
  /** Group by its last layer's name (the layers before it in the group have no other consumer, so are never asked for). */
  groups: Map<string, Group>;
  output: Layer;
}

interface Folded {
  /** The variables' data the arrays were computed from (identity compared). */
  sources: object[];
  filter: Float32Array | null;
  filterShape: number[];
  bias: Float32Array | null;
}

const PLANS = new WeakMap<tf.LayersModel, Plan | null>();
const FOLDED = new WeakMap<Layer, Folded>();

const pair = (v: number | number[]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]]);

/** The single layer consuming `layer`'s output, or undefined (several consumers, or none). */
function soleConsumer(layer: Layer): Layer | undefined {
  const out = layer.outboundNodes;
  return out.length === 1 ? (out[0].outboundLayer as Layer) : undefined;
}

function activationOf(layer: Layer): Activation | undefined {
  const cls = layer.getClassName();
  const config = layer.getConfig() as { maxValue?: number | null; activation?: string };
  if (cls === 'ReLU') return config.maxValue == null ? 'relu' : config.maxValue === 6 ? 'relu6' : undefined;
  if (cls === 'Activation') return config.activation === 'relu' ? 'relu' : config.activation === 'relu6' ? 'relu6' : undefined;
  return undefined;
}

function usedOnce(layer: Layer): boolean {
  return layer.inboundNodes.length === 1 && layer.outboundNodes.length <= 1;
}

/** A channels-last MaxPooling2D with 2x2 windows, stride 2 and valid padding (the classic "pool_k" between blocks). */
function isPool2x2(layer: Layer): boolean {
  if (layer.getClassName() !== 'MaxPooling2D') return false;
  const c = layer.getConfig() as { poolSize?: number | number[]; strides?: number | number[] | null; padding?: string; dataFormat?: string };
  const size = pair(c.poolSize ?? 2);
  const strides = c.strides == null ? size : pair(c.strides);
  return size.every((v) => v === 2) && strides.every((v) => v === 2) && c.padding === 'valid' && c.dataFormat !== 'channelsFirst';
}

/** The fused groups of a flat single-input, single-output model; null when the model is not one convlens folds. */
function planOf(model: tf.LayersModel): Plan | null {
  if (PLANS.has(model)) return PLANS.get(model)!;
  let plan: Plan | null = null;
  const layers = model.layers;
  const flat = model.inputs.length === 1 && model.outputs.length === 1
    && layers.every((l) => !(l instanceof tf.LayersModel) && l.inboundNodes.length === 1);
  if (flat) {
    const output = layers[layers.length - 1];
    const groups = new Map<string, Group>();
    for (const conv of layers) {
      const cls = conv.getClassName();
      if (cls !== 'Conv2D' && cls !== 'DepthwiseConv2D') continue;
      const config = conv.getConfig() as { activation?: string; dataFormat?: string; padding?: string; strides: number | number[]; dilationRate: number | number[] };
      if (config.activation !== 'linear' || config.dataFormat !== 'channelsLast' || (config.padding !== 'same' && config.padding !== 'valid')) continue;
      if (conv === output || !usedOnce(conv)) continue;
      let last = conv;
      let bn: Layer | undefined;
      let next = soleConsumer(conv);
      if (next && next.getClassName() === 'BatchNormalization' && next.inboundNodes.length === 1) {
        const axis = (next.getConfig() as { axis?: number | number[] }).axis;
        const rank = (conv.outputShape as number[]).length;
        if ((axis === -1 || axis === rank - 1) && next !== output) {
          bn = next;
          last = next;
          next = soleConsumer(next); // none when the normalized output feeds several layers (a residual's shortcut)
        }
      }
      const act = next && next !== output && usedOnce(next) ? activationOf(next) : undefined;
      if (act) last = next!;
      if (last === conv) continue; // nothing to fold
      const after = soleConsumer(last);
      const strides = pair(config.strides);
      const dilations = pair(config.dilationRate);
      const plain = cls === 'Conv2D' && [...strides, ...dilations].every((v) => v === 1);
      const pool = plain && after && after !== output && usedOnce(after) && isPool2x2(after) ? after : undefined;
      groups.set(last.name, {
        conv, depthwise: cls === 'DepthwiseConv2D', bn, activation: act ?? 'linear', last,
        strides, padding: config.padding as 'same' | 'valid', dilations, pool,
      });
    }
    plan = groups.size ? { groups, output } : null;
  }
  PLANS.set(model, plan);
  return plan;
}

const field = (layer: Layer, name: string) => (layer as unknown as Record<string, LayerVar | null | undefined>)[name] ?? null;

/** The group's filter and bias with the batch norm folded in, recomputed when a variable has new data. */
function foldedWeights(g: Group): Folded {
  const kernelVar = field(g.conv, g.depthwise ? 'depthwiseKernel' : 'kernel')!;
  const biasVar = field(g.conv, 'bias');
  const bnVars = g.bn ? ['gamma', 'beta', 'movingMean', 'movingVariance'].map((n) => field(g.bn!, n)) : [];
  const vars = [kernelVar, biasVar, ...bnVars];
  const sources = vars.map((v) => (v ? (v.read() as unknown as { dataId: object }).dataId : null)) as object[];
  const known = FOLDED.get(g.last);
  if (known && known.sources.length === sources.length && known.sources.every((s, i) => s === sources[i])) return known;
  const kernel = kernelVar.read();
  let folded: Folded;
  if (!g.bn) {
    folded = { sources, filter: null, filterShape: kernel.shape, bias: null }; // the layer's own weights
  } else {
    const [gamma, beta, mean, variance] = bnVars.map((v) => (v ? v.read().dataSync() : null));
    const eps = (g.bn.getConfig() as { epsilon: number }).epsilon;
    const w = kernel.dataSync();
    const [, , ci, last] = kernel.shape as [number, number, number, number];
    const channels = g.depthwise ? ci * last : last; // a depthwise conv's outputs: Ci·m
    const b = biasVar ? biasVar.read().dataSync() : null;
    const s = new Float64Array(channels);
    const bias = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      s[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance![c] + eps);
      bias[c] = ((b ? b[c] : 0) - mean![c]) * s[c] + (beta ? beta[c] : 0);
    }
    // Both layouts end in the output channel: [kh, kw, Ci, Co] and [kh, kw, Ci, m] (channel ci·m + j).
    const filter = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) filter[i] = w[i] * s[i % channels];
    folded = { sources, filter, filterShape: kernel.shape, bias };
  }
  FOLDED.set(g.last, folded);
  return folded;
}

/** A layer inside the group (not its last) that a caller reads or replaces: the group then runs layer by layer. */
function inner(g: Group, keep: Set<string>): boolean {
  return keep.has(g.conv.name) || (g.bn != null && g.bn !== g.last && keep.has(g.bn.name));
}

/**
 * conv(x, filter) + bias in one fused kernel (the bias added as the output is written), differentiated with respect
 * to x only: dx is the convolution's input gradient of dy (the bias adds nothing to it). The filter and bias are
 * constants of the pass, so their gradients — which tf.fused's own gradient computes — are not wanted.
 */
function convBias(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, g: Group): tf.Tensor4D {
  const run = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
    const x4 = input as tf.Tensor4D;
    (save as tf.GradSaveFunc)([filter]); // kept for the backward pass (the forward's scope would dispose it)
    const args = { x: x4, filter, bias, strides: g.strides, pad: g.padding, dilations: g.dilations };
    const value = g.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d({ ...args, dataFormat: 'NHWC' });
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(
      g.depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput',
      { dy, filter: saved[0] },
      { strides: g.strides, pad: g.padding, dilations: g.dilations, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: x4.shape } as never,
    ) as tf.Tensor;
    return { value, gradFunc };
  });
  return run(x) as tf.Tensor4D;
}

/**
 * The fused groups for one call, as runGraph's `fused` option: per group's last layer, the layer feeding the group's
 * convolution and what computes the group's output from it with this call's filter and bias tensors (the folded
 * arrays uploaded once per call; the layers' own variables where nothing is folded). Groups with an inner layer in
 * `keep` are left out.
 *
 * Forward passes run each group as one fused convolution (bias and activation as the output is written). Passes
 * that are `differentiable` (input gradients, activation maximisation) run the same folded filter and bias as a
 * convolution with its bias (one fused kernel whose gradient is the input's only: `convBias`) and a ReLU / ReLU6
 * op, so tfjs's tape differentiates the activation with its registered rules (tf.fused's own gradient would compute
 * the filter's and bias's gradients too, and knows no ReLU6) and guided backpropagation's ReLU rules still apply.
 * Against the layers one by one this drops, per group, the batch norm's forward pass and its gradient (tfjs's: a
 * subtraction, a tiled scale and three multiplications over the whole activation, even when only the input's
 * gradient is wanted), and ReLU6's second op (Keras's ReLU(max_value=6) runs as relu then clip) and its second mask.
 */
function fusedLayers(plan: Plan, keep: Set<string>, differentiable: boolean): FusedLayers {
  const out: FusedLayers = new Map();
  for (const g of plan.groups.values()) {
    if (inner(g, keep)) continue;
    const f = foldedWeights(g);
    const biasVar = field(g.conv, 'bias');
    const filter = f.filter ? tf.tensor4d(f.filter, f.filterShape as [number, number, number, number]) : field(g.conv, g.depthwise ? 'depthwiseKernel' : 'kernel')!.read() as tf.Tensor4D;
    const bias = f.bias ? tf.tensor1d(f.bias) : biasVar ? biasVar.read() as tf.Tensor1D : undefined;
    const dilated = g.dilations[0] !== 1 || g.dilations[1] !== 1;
    const fused = (x: tf.Tensor4D) => {
      const args = { x, filter, bias, strides: g.strides, pad: g.padding, dilations: g.dilations, activation: g.activation };
      return g.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d({ ...args, dataFormat: 'NHWC' });
    };
    const stepwise = (x: tf.Tensor4D) => {
      let y: tf.Tensor;
      if (bias && !dilated) y = convBias(x, filter, bias, g);
      else {
        y = g.depthwise
          ? tf.depthwiseConv2d(x, filter, g.strides, g.padding, 'NHWC', g.dilations)
          : tf.conv2d(x, filter, g.strides, g.padding, 'NHWC', g.dilations);
        if (bias) y = tf.add(y, bias);
      }
      return g.activation === 'relu' ? tf.relu(y) : g.activation === 'relu6' ? tf.relu6(y) : y;
    };
    const input = g.conv.inboundNodes[0].inboundLayers[0] as Layer;
    out.set(g.last.name, { input, run: (x) => (differentiable ? stepwise : fused)(x as tf.Tensor4D) });
    // Forward passes on the wasm engine: a following 2x2 max pooling in the same kernel, unless the group's own
    // output is wanted.
    if (g.pool && !differentiable && !keep.has(g.last.name) && tf.getBackend() === 'wasm' && tf.getKernel(CONV_POOL, 'wasm')) {
      const attrs = { pad: g.padding, activation: g.activation };
      out.set(g.pool.name, {
        input,
        run: (x) => (x.dtype === 'float32' && convPoolApplies(x.shape, filter.shape, attrs)
          ? tf.engine().runKernel(CONV_POOL, bias ? { x, filter, bias } : { x, filter }, attrs as never) as tf.Tensor
          : tf.maxPool(fused(x as tf.Tensor4D), 2, 2, 'valid')),
      });
    }
  }
  return out;
}

/**
 * `runGraph` with batch normalization folded into the convolutions (a model `forward` cannot fold runs unchanged):
 * for explanations' gradient passes and captured activations. `differentiable` passes build each group from
 * ops tfjs can differentiate (above); the others use the fused kernels, as `forward` does. Groups whose inner
 * layers are captured or replaced run layer by layer, so every captured tensor is the layer's own. Not for
 * training (batch norm in training mode does not fold).
 */
export function foldedGraph(model: tf.LayersModel, x: tf.Tensor, opts: RunOptions & { differentiable: boolean }): RunResult {
  const plan = opts.training ? null : planOf(model);
  if (plan == null) return runGraph(model, x, opts);
  const keep = new Set([...(opts.capture ?? []), ...Object.keys(opts.replace ?? {})]);
  const fused = fusedLayers(plan, keep, opts.differentiable);
  return runGraph(model, x, { ...opts, fused });
}

/**
 * `model.predict(x, { batchSize })`: on ONNX Runtime when it runs this model (ort/runtime.ts), else on the tfjs
 * engine with batch normalization folded into the convolutions where the model allows it (see above), else
 * `model.predict` itself. The caller owns the result.
 */
export function forward(model: tf.LayersModel, x: tf.Tensor, opts: { batchSize?: number; engine?: 'tfjs' } = {}): tf.Tensor {
  const onOrt = opts.engine === 'tfjs' ? undefined : ortForward(model, x, opts.batchSize ?? 32);
  if (onOrt) return onOrt;
  const plan = planOf(model);
  if (plan == null) return model.predict(x, opts) as tf.Tensor;
  const n = x.shape[0];
  const size = Math.max(1, opts.batchSize ?? 32);
  return tf.tidy(() => {
    const fused = fusedLayers(plan, new Set(), false);
    if (n <= size) return runGraph(model, x, { fused }).output;
    const parts: tf.Tensor[] = [];
    for (let start = 0; start < n; start += size) {
      // Each batch's intermediates go as soon as its output is out (as in model.predict's loop).
      parts.push(tf.tidy(() => runGraph(model, tf.slice(x, start, Math.min(size, n - start)), { fused }).output));
    }
    return tf.concat(parts, 0);
  });
}

/** Which layers `forward` fuses, for tests and the engine's notes: [conv, batch norm or null, activation] per group. */
export function foldedGroups(model: tf.LayersModel): [string, string | null, Activation][] {
  const plan = planOf(model);
  return plan ? [...plan.groups.values()].map((g) => [g.conv.name, g.bn?.name ?? null, g.activation]) : [];
}
