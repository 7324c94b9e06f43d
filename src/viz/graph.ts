/**
 * Which layers of a model the explanations look at: spatial layers, and the default CAM layer (the last
 * convolution's activated output).
 */
import type * as tf from '@tensorflow/tfjs';

type Layer = tf.layers.Layer;

/** True for layers with a spatial [B, H, W, C] output. */
export function isSpatial(layer: Layer): boolean {
  const shape = layer.outputShape as (number | null)[];
  return Array.isArray(shape) && !Array.isArray(shape[0]) && shape.length === 4;
}

const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);

/**
 * The default CAM layer: the output of the last convolutional layer *after its activation* — the last
 * spatial layer at or after the last convolution, before spatial resolution is pooled away
 * (`block5_conv3` in VGG16 (activation fused), `relu_2_2` in TinyVGG, `out_relu` in MobileNetV2, the last
 * residual block's output in a ResNet).
 */
export function defaultCamLayer(model: tf.LayersModel): string {
  const layers = model.layers;
  let lastConv = -1;
  layers.forEach((l, i) => {
    if (CONV_CLASSES.has(l.getClassName())) lastConv = i;
  });
  if (lastConv < 0) throw new Error(`${model.name}: no convolutional layer, so no CAM layer; pass one explicitly`);
  let chosen = lastConv;
  // Follow activation / normalisation layers that keep the shape (ReLU, BatchNorm, Activation), and a residual
  // block's Add that the chain feeds: a ResNet's CAM layer is its last block's output (the ReLU after the Add,
  // `conv5_block3_out` in Keras's ResNet50, `layer4` in pytorch-grad-cam's examples), not a convolution inside it.
  for (let i = lastConv + 1; i < layers.length; i++) {
    const cls = layers[i].getClassName();
    const sameShape = JSON.stringify(layers[i].outputShape) === JSON.stringify(layers[chosen].outputShape);
    const feeds = layers[i].inboundNodes.some((n) => n.inboundLayers.includes(layers[chosen]));
    if (sameShape && ['ReLU', 'Activation', 'BatchNormalization', 'LeakyReLU', 'ELU'].includes(cls)) chosen = i;
    else if (sameShape && cls === 'Add' && feeds) chosen = i;
    else break;
  }
  return layers[chosen].name;
}
