/**
 * Nested models opened up. A model used as a layer — Teachable Machine's MobileNet base and head (two
 * Sequential models inside one), or Keras tutorials' `Sequential([base_model, Flatten(), Dense(…)])` — hides
 * its layers from everything that walks `model.layers`: no layer pages, no activations, no CAM layer. This
 * rebuilds such a model as one flat graph of fresh copies of the inner layers (same configs, same weights), so
 * every inner layer is an ordinary layer of the report; predictions are unchanged (tested against the nested
 * model). `nestingOf` tells which nested models each layer sat in (the summary shows it, as Keras's
 * `expand_nested` does).
 */
import * as tf from '@tensorflow/tfjs';

type Symbolic = tf.SymbolicTensor;
type LayerClass = [new (config: object) => tf.layers.Layer, (cls: unknown, config: object) => tf.layers.Layer];

const NESTING = new WeakMap<tf.LayersModel, Map<string, string[]>>();

/** Per layer name of a flattened model: the nested models it came from, outermost first (absent: not nested). */
export function nestingOf(model: tf.LayersModel): Map<string, string[]> | undefined {
  return NESTING.get(model);
}

const isModel = (l: tf.layers.Layer): l is tf.LayersModel => l instanceof tf.LayersModel;

function cloneLayer(layer: tf.layers.Layer, name: string): tf.layers.Layer {
  const map = (tf.serialization.SerializationMap.getMap() as unknown as { classNameMap: Record<string, LayerClass> }).classNameMap;
  const entry = map[layer.getClassName()];
  if (!entry) throw new Error(`layer '${layer.name}' (${layer.getClassName()}) cannot be copied out of its nested model`);
  const config = { ...layer.getConfig(), name } as Record<string, unknown>;
  // The input shape belongs to the flat model's input, not to an inner first layer.
  delete config.batchInputShape;
  delete config.inputShape;
  return entry[1](entry[0], config);
}

/** A copy of `model` with every nested model opened, or `model` itself when nothing is nested. */
export function flattenModel(model: tf.LayersModel): tf.LayersModel {
  if (!model.layers.some(isModel)) return model;
  const used = new Set<string>();
  const nesting = new Map<string, string[]>();
  const fresh = (name: string, parents: string[]) => {
    let n = name;
    // Two nested models may both have a 'dense': the inner one is renamed after its model.
    for (let i = parents.length - 1; used.has(n) && i >= 0; i--) n = `${parents[i]}_${n}`;
    for (let k = 1; used.has(n); k++) n = `${name}_${k}`;
    used.add(n);
    return n;
  };

  const applyLayer = (layer: tf.layers.Layer, inputs: Symbolic[], parents: string[], frozen: boolean): Symbolic[] => {
    if (isModel(layer)) return applyModel(layer, inputs, [...parents, layer.name], frozen || !layer.trainable);
    if (layer.getClassName() === 'InputLayer') return inputs;
    const copy = cloneLayer(layer, fresh(layer.name, parents));
    // A frozen nested model (`base_model.trainable = False`) freezes each of its layers once they stand alone.
    if (frozen) copy.trainable = false;
    const out = copy.apply(inputs.length === 1 ? inputs[0] : inputs) as Symbolic | Symbolic[];
    const weights = layer.getWeights();
    copy.setWeights(weights);
    if (parents.length) nesting.set(copy.name, parents);
    return Array.isArray(out) ? out : [out];
  };

  const applyModel = (m: tf.LayersModel, inputs: Symbolic[], parents: string[], frozen: boolean): Symbolic[] => {
    if (m instanceof tf.Sequential) {
      let x = inputs;
      for (const layer of m.layers) x = applyLayer(layer, x, parents, frozen);
      return x;
    }
    // A functional model: replay its graph, deepest nodes (nearest the inputs) first.
    const byId = new Map<number, Symbolic>();
    m.inputs.forEach((t, i) => byId.set(t.id, inputs[i]));
    const nodesByDepth = (m as unknown as { nodesByDepth: Record<string, Array<{ outboundLayer: tf.layers.Layer; inputTensors: Symbolic[]; outputTensors: Symbolic[] }>> }).nodesByDepth;
    const depths = Object.keys(nodesByDepth).map(Number).sort((a, b) => b - a);
    for (const depth of depths) {
      for (const node of nodesByDepth[depth]) {
        if (node.outboundLayer.getClassName() === 'InputLayer') continue;
        const ins = node.inputTensors.map((t) => {
          const s = byId.get(t.id);
          if (!s) throw new Error(`nested model '${m.name}': layer '${node.outboundLayer.name}' takes a tensor that is not computed before it`);
          return s;
        });
        applyLayer(node.outboundLayer, ins, parents, frozen).forEach((s, i) => byId.set(node.outputTensors[i].id, s));
      }
    }
    return m.outputs.map((t) => byId.get(t.id)!);
  };

  const inputs = model.inputs.map((t, i) => {
    const name = fresh(model.inputLayers?.[i]?.name ?? t.name.split('/')[0], []);
    return tf.input({ batchShape: t.shape as number[], name, dtype: t.dtype });
  });
  const outputs = applyModel(model, inputs, [], !model.trainable);
  const flat = tf.model({ inputs, outputs, name: model.name });
  NESTING.set(flat, nesting);
  return flat;
}
