/**
 * The manifest: the one contract between the pipeline (Node, TensorFlow.js) and the site (Astro).
 * The pipeline writes it with `writeManifest`; every page parses it with `readManifest`. Neither side
 * imports the other.
 */
import { z } from 'zod';

/** One layer row of a Keras-style summary. */
export const LayerSummary = z.object({
  /** Layer name as in the model (Keras names for zoo models). */
  name: z.string(),
  /** tfjs/Keras class name, e.g. `Conv2D`. */
  className: z.string(),
  /** Output shape without the batch axis. */
  outputShape: z.array(z.number().int().nullable()),
  /** Number of weights, trainable and not. */
  params: z.number().int().nonnegative(),
});

/** Metrics of one training epoch. */
export const EpochRecord = z.object({
  epoch: z.number().int().positive(),
  loss: z.number(),
  acc: z.number().min(0).max(1),
  val_loss: z.number().optional(),
  val_acc: z.number().min(0).max(1).optional(),
});

export const ModelReport = z.object({
  /** URL-safe identifier, used in /models/<slug>/. */
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  title: z.string(),
  architecture: z.string(),
  dataset: z.object({
    name: z.string(),
    classes: z.array(z.string()).min(2),
    trainCount: z.number().int().positive(),
    /** Held out of training for model selection (best epoch). */
    validationCount: z.number().int().nonnegative().default(0),
    testCount: z.number().int().positive(),
  }),
  layers: z.array(LayerSummary).min(1),
  totalParams: z.number().int().positive(),
  trainableParams: z.number().int().nonnegative(),
  training: z.object({
    epochs: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    learningRate: z.number().positive(),
    seed: z.number().int(),
    history: z.array(EpochRecord),
  }),
  evaluation: z.object({
    testAccuracy: z.number().min(0).max(1),
    testLoss: z.number(),
    /** confusion[true][predicted] = count of test images. */
    confusion: z.array(z.array(z.number().int().nonnegative())),
  }),
});
export type ModelReport = z.infer<typeof ModelReport>;

export const Manifest = z.object({
  version: z.literal(1),
  /** The engine that computed everything: backend id and the selection line. */
  engine: z.object({ backend: z.string(), line: z.string() }),
  models: z.array(ModelReport),
});
export type Manifest = z.infer<typeof Manifest>;
