/**
 * The attribution-method interface: each method is one file that declares what it needs and returns arrays;
 * rendering to images is shared (src/render). Maps are raw numbers at the input resolution; the normalisation
 * and colormap contract lives in src/render/normalize.ts.
 */
import type * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';

/** Images per pass: predict-only passes, and passes that keep activations for a gradient. */
export interface BatchLimits {
  forward: number;
  gradient: number;
}

export interface AttributionInput {
  model: tf.LayersModel;
  /** Preprocessed inputs [B, H, W, C]. */
  x: tf.Tensor4D;
  /** Target class per sample (default: the predicted class). */
  targets: number[];
  /** Layer for CAM methods (default: defaultCamLayer). */
  layer?: string;
  /** Seed for methods with randomness (SmoothGrad's noise). */
  seed: number;
  /** Images per forward and per gradient pass (the model's memory plan; default: bounded by input size). */
  limits?: BatchLimits;
  /**
   * A stable number per sample (its position among the report's samples) that seeds its randomness (SmoothGrad's
   * noise), so a map does not depend on which samples share its batch or its process. Default: 0, 1, 2, ….
   */
  keys?: number[];
}

export interface AttributionResult {
  /** [B, H, W] attribution per pixel at input resolution (signed for gradient × input and IG). */
  maps: tf.Tensor3D;
  /** Optional per-channel attributions [B, H, W, C] (guided backprop in colour, raw gradients). */
  channels?: tf.Tensor4D;
  /** CAMs at the layer's own resolution [B, h, w]. */
  lowRes?: tf.Tensor3D;
  /** Per-sample numbers (IG's completeness gap, occlusion's baseline probability, …). */
  extras?: Record<string, number[]>;
}

export type Family = 'gradient' | 'cam' | 'perturbation';

export interface AttributionMethod<P extends Record<string, unknown> = Record<string, unknown>> {
  /** URL-safe id, also the /methods/<id>/ page. */
  id: string;
  title: string;
  family: Family;
  /** Whether the map is signed (diverging colormap) or magnitude-only (sequential colormap). */
  signed: boolean;
  /** Paper and equation the implementation follows. */
  reference: string;
  params: z.ZodType<P, z.ZodTypeDef, unknown>;
  /** Tensors in the result are owned by the caller (dispose them). */
  attribute(input: AttributionInput, params: P): AttributionResult;
  /**
   * Passes through the model per sample with these parameters, for the cost estimate (default: one gradient pass).
   * `input` is [H, W], `channels` the CAM layer's channel count.
   */
  passes?(params: P, shape: { input: [number, number]; channels: number }): Passes;
}

/** Forward-only and gradient passes of one image through the model. */
export interface Passes {
  /** Forward passes to the output: on ONNX Runtime when it runs the model (engine/ort/runtime.ts). */
  forward: number;
  gradient: number;
  /** Forward passes that read intermediate activations: on the tfjs engine (default 0). */
  capture?: number;
  /** Milliseconds of work outside the engine (drawing, encoding), on the reference machine. */
  ms?: number;
}

/** A method that produces gradients with respect to the input, so SmoothGrad can wrap it. */
export interface InputGradientMethod<P extends Record<string, unknown> = Record<string, unknown>> extends AttributionMethod<P> {
  /** ∂(target score)/∂x or a modified version of it, [B, H, W, C]. */
  inputGradients(input: AttributionInput, params: P): tf.Tensor4D;
  /** How per-channel gradients become one map per pixel. */
  reduce(x: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor3D;
}
