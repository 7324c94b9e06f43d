/**
 * Evaluating a LayersModel layer by layer, so explanations can read any intermediate activation and
 * differentiate with respect to it. `runGraph` walks the model's graph lazily from the output back, so
 * replacing a layer's output (to take gradients with respect to it) skips everything upstream of it.
 * Works for Sequential and functional models with branches and merges (MobileNetV2's residual adds). folded.ts
 * runs its forward passes through it with fused convolutions in place of conv → batch norm → activation; training
 * (train/fit.ts) runs it with `training: true`.
 */
import * as tf from '@tensorflow/tfjs';

type Layer = tf.layers.Layer;

export interface RunOptions {
  /** Layers whose outputs are returned. */
  capture?: string[];
  /** Layers whose outputs are replaced by the given tensors (their inputs are then not evaluated). */
  replace?: Record<string, tf.Tensor>;
  /** Stop before the final softmax and return the logits (see `logitsLayer`). */
  logits?: boolean;
  training?: boolean;
  /**
   * Evaluate only what the captured layers need (not the model's output): activation maximisation of an early
   * layer then skips the rest of the network. `output` is then the first captured tensor.
   */
  captureOnly?: boolean;
  /**
   * Layers computed in one step from an earlier layer's output, skipping the layers between (folded.ts: a
   * convolution, its batch norm and activation as one fused convolution, keyed by the group's last layer).
   */
  fused?: FusedLayers;
}

/** Per layer name: the layer whose output goes in, and what computes this layer's output from it. */
export type FusedLayers = Map<string, { input: tf.layers.Layer; run: (x: tf.Tensor) => tf.Tensor }>;

export interface RunResult {
  output: tf.Tensor;
  captured: Record<string, tf.Tensor>;
}

/** The layers feeding `layer` (first inbound node), by name. */
function inboundLayers(layer: Layer): Layer[] {
  const node = layer.inboundNodes[0];
  return node ? (node.inboundLayers as Layer[]) : [];
}

/**
 * What the layers after `layer` read besides it: the layers outside its downstream that feed a layer inside it (a
 * residual block's shortcut, a DenseNet's earlier features). Given their outputs and a replacement for `layer`,
 * `runGraph` computes the output from the layers after `layer` alone.
 */
export function tailInputs(model: tf.LayersModel, layer: string): string[] {
  const target = model.getLayer(layer);
  const downstream = new Set<Layer>([target]);
  for (const l of model.layers) if (inboundLayers(l).some((p) => downstream.has(p))) downstream.add(l);
  const out = new Set<string>();
  for (const l of downstream) {
    if (l === target) continue;
    for (const p of inboundLayers(l)) if (!downstream.has(p)) out.add(p.name);
  }
  return [...out];
}

/** Names of the model's input layers. */
function isInputLayer(layer: Layer): boolean {
  return layer.getClassName() === 'InputLayer';
}

/**
 * How the model turns logits into probabilities, if it does: a final Dense with softmax (or k ≥ 2 sigmoids), a final
 * Activation/Softmax layer, or one sigmoid unit read as two classes (models/heads.ts's SigmoidPair, logits [−z, z]).
 * Returns the layer and how to get logits from it.
 */
export function softmaxHead(model: tf.LayersModel): { layer: Layer; kind: 'dense' | 'activation' | 'sigmoid-pair' } | undefined {
  const last = model.layers[model.layers.length - 1];
  const config = last.getConfig() as { activation?: string };
  const cls = last.getClassName();
  // k ≥ 2 sigmoid units (a multi-label head, models/heads.ts): each unit's logit is its pre-activation.
  const units = model.outputs[0]?.shape[1] ?? 0;
  const squash = config.activation === 'softmax' || (config.activation === 'sigmoid' && units >= 2);
  if (cls === 'Dense' && squash) return { layer: last, kind: 'dense' };
  if ((cls === 'Activation' && squash) || cls === 'Softmax') return { layer: last, kind: 'activation' };
  // One sigmoid unit read as two classes (models/heads.ts): [σ(−z), σ(z)] has the logits [−z, z].
  if (cls === 'ConvlensSigmoidPair') return { layer: last, kind: 'sigmoid-pair' };
  return undefined;
}

export function runGraph(model: tf.LayersModel, x: tf.Tensor, opts: RunOptions = {}): RunResult {
  const memo = new Map<string, tf.Tensor>();
  const replace = opts.replace ?? {};
  const head = opts.logits ? softmaxHead(model) : undefined;
  // Keras's rule: a frozen BatchNormalization runs in inference mode even in training (fine-tuning keeps a
  // pretrained base's statistics).
  const kwargsOf = (layer: Layer) => ({ training: (opts.training ?? false) && !(layer.getClassName() === 'BatchNormalization' && !layer.trainable) });
  const outputLayer = model.layers[model.layers.length - 1];

  const evaluate = (layer: Layer): tf.Tensor => {
    const known = memo.get(layer.name);
    if (known) return known;
    let out: tf.Tensor;
    const fused = opts.fused?.get(layer.name);
    if (layer.name in replace) out = replace[layer.name];
    else if (isInputLayer(layer)) out = x;
    else if (fused) out = fused.run(evaluate(fused.input));
    else {
      const parents = inboundLayers(layer);
      const inputs = parents.length === 0 ? x : parents.length === 1 ? evaluate(parents[0]) : parents.map(evaluate);
      if (head && layer === head.layer) {
        const inp = inputs as tf.Tensor;
        if (head.kind === 'activation') out = inp;
        else if (head.kind === 'sigmoid-pair') out = tf.concat([tf.neg(inp), inp], -1);
        else {
          // The Dense layer without its softmax: x·W + b.
          const [kernel, bias] = layer.getWeights();
          out = bias ? tf.add(tf.matMul(inp as tf.Tensor2D, kernel as tf.Tensor2D), bias) : tf.matMul(inp as tf.Tensor2D, kernel as tf.Tensor2D);
        }
      } else out = layer.apply(inputs, kwargsOf(layer)) as tf.Tensor;
    }
    memo.set(layer.name, out);
    return out;
  };

  const captured: Record<string, tf.Tensor> = {};
  for (const name of opts.capture ?? []) {
    captured[name] = evaluate(model.getLayer(name));
  }
  const first = opts.capture?.[0];
  const output = opts.captureOnly && first != null ? captured[first] : evaluate(outputLayer);
  return { output, captured };
}
