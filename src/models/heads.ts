/**
 * Output heads as users build them, made into the one convlens explains: a probability per class that sums to 1.
 *
 * A binary classifier's `Dense(1, activation='sigmoid')` (the cats-vs-dogs tutorial's head) — or `Dense(1)` then
 * `Activation('sigmoid')` — outputs p = σ(z), the probability of class 1 (Keras's `image_dataset_from_directory`
 * with `label_mode='binary'` makes the second class folder, alphabetically, class 1). `twoClassHead` rebuilds such
 * a model so its output is [1 − p, p] = [σ(−z), σ(z)]: the same Dense layer without its sigmoid (same name and
 * weights), then a `SigmoidPair` layer. Its logits — what explanations differentiate (engine/graph.ts) — are
 * [−z, z]: class 1's explanation follows +z and class 0's −z, so the two maps are each other's negatives, as they
 * should be for one logit.
 *
 * A classifier that outputs logits — PyTorch's convention (its softmax lives in the loss), Keras's
 * `from_logits=True` models — ends in a linear Dense layer (an ONNX Gemm converts to one): `logitsHead` appends a
 * softmax, so the report reads probabilities and the explanations still differentiate the logits (engine/graph.ts
 * stops before a final softmax).
 */
import * as tf from '@tensorflow/tfjs';

type Layer = tf.layers.Layer;
type T = tf.SymbolicTensor;

/** [z] → [σ(−z), σ(z)]: one sigmoid unit read as two classes. */
export class SigmoidPair extends tf.layers.Layer {
  static className = 'ConvlensSigmoidPair';

  override computeOutputShape(inputShape: tf.Shape): tf.Shape {
    return [inputShape[0], 2];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const z = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.sigmoid(tf.concat([tf.neg(z), z], -1));
    });
  }

  /** The pair's logits [−z, z] from its input z. */
  static logits(z: tf.Tensor): tf.Tensor {
    return tf.concat([tf.neg(z), z], -1);
  }
}
tf.serialization.registerClass(SigmoidPair);

/**
 * The Dense layer whose outputs z the model's final sigmoid squashes — `Dense(units, activation='sigmoid')`, or a
 * linear Dense then `Activation('sigmoid')` — when the model ends in `units` sigmoid units (`units` 'many': two or
 * more); undefined otherwise.
 */
function sigmoidDense(model: tf.LayersModel, units: 1 | 'many'): Layer | undefined {
  const k = model.outputs[0]?.shape[1] ?? 0;
  if (model.outputs.length !== 1 || model.outputs[0].shape.length !== 2 || (units === 1 ? k !== 1 : k < 2)) return undefined;
  const last = model.layers[model.layers.length - 1];
  if ((last.getConfig() as { activation?: string }).activation !== 'sigmoid') return undefined;
  if (last.getClassName() === 'Dense') return last;
  if (last.getClassName() !== 'Activation') return undefined;
  const before = last.inboundNodes[0]?.inboundLayers[0] as Layer | undefined;
  const linear = before?.getClassName() === 'Dense' && (before.getConfig() as { activation?: string }).activation === 'linear';
  return linear && before!.outboundNodes.length === 1 ? before : undefined;
}

/** The layer computing z, when the model ends in one sigmoid unit; undefined otherwise. */
function sigmoidUnit(model: tf.LayersModel): { dense: Layer } | undefined {
  const dense = sigmoidDense(model, 1);
  return dense ? { dense } : undefined;
}

/** Whether the model ends in one sigmoid unit (a binary classifier). */
export function isSigmoidUnit(model: tf.LayersModel): boolean {
  return sigmoidUnit(model) != null;
}

/**
 * The model with its single sigmoid unit read as two classes [1 − p, p] (see above); any other model unchanged.
 * The returned model shares every layer but the last Dense, which is rebuilt linear with the same name and weights
 * (the original's weights are released: do not run the original model afterwards).
 */
export function twoClassHead(model: tf.LayersModel): tf.LayersModel {
  const unit = sigmoidUnit(model);
  if (!unit) return model;
  const { dense } = unit;
  const config = { ...(dense.getConfig() as object), activation: 'linear' } as Parameters<typeof tf.layers.dense>[0];
  const linear = tf.layers.dense(config);
  const input = dense.inboundNodes[0].inputTensors[0] as T;
  const z = linear.apply(input) as T;
  linear.setWeights(dense.getWeights());
  for (const w of dense.weights) w.dispose(); // the sigmoid Dense is no longer part of any model convlens runs
  const out = new SigmoidPair({ name: `${dense.name}_two_classes` }).apply(z) as T;
  return tf.model({ inputs: model.inputs, outputs: out, name: model.name });
}

/** Whether the model's output is a linear Dense layer's (logits) over at least two classes. */
export function isLogitsHead(model: tf.LayersModel): boolean {
  if (model.outputs.length !== 1 || model.outputs[0].shape.length !== 2 || (model.outputs[0].shape[1] ?? 0) < 2) return false;
  const last = model.layers[model.layers.length - 1];
  return last.getClassName() === 'Dense' && (last.getConfig() as { activation?: string }).activation === 'linear';
}

/** A logits model with a softmax appended (named `<last layer>_softmax`); any other model unchanged. */
export function logitsHead(model: tf.LayersModel): tf.LayersModel {
  if (!isLogitsHead(model)) return model;
  const last = model.layers[model.layers.length - 1];
  const out = tf.layers.activation({ activation: 'softmax', name: `${last.name}_softmax` }).apply(model.outputs[0]) as T;
  return tf.model({ inputs: model.inputs, outputs: out, name: model.name });
}

/**
 * Whether the model ends in k ≥ 2 sigmoid units — `Dense(k, activation='sigmoid')`, or a linear Dense then
 * `Activation('sigmoid')`: a multi-label classifier, each class its own probability (they need not sum to 1).
 */
export function isMultiLabelHead(model: tf.LayersModel): boolean {
  return sigmoidDense(model, 'many') != null;
}

/**
 * How convlens reads the model's output as class probabilities: one sigmoid unit as two classes, logits through a
 * softmax, k sigmoid units as k independent probabilities (multi-label; explanations follow each unit's logit).
 */
export function classifierHead(model: tf.LayersModel): { model: tf.LayersModel; note?: string; multiLabel?: boolean } {
  const twoClasses = twoClassHead(model);
  if (twoClasses !== model) return { model: twoClasses, note: 'its sigmoid unit read as two classes, [1 − p, p]' };
  if (isMultiLabelHead(model)) return { model, note: 'multi-label: one sigmoid unit per class, each class its own probability', multiLabel: true };
  const softmax = logitsHead(model);
  if (softmax !== model) return { model: softmax, note: 'its logits read through a softmax' };
  return { model };
}
