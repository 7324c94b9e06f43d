/**
 * convlens.config.ts / .mjs / .json: which models to train or load, on which data, which samples, methods and
 * layers to explain. Validated with zod; every error names the key, what was expected and what was found.
 * No `models` key means the default report (LeNet-5, the random CNN and MobileNetV2).
 */
import { z } from 'zod';
import { ATTRIBUTION_METHODS } from '../viz/registry.ts';
import { ZOO } from '../models/zoo.ts';
import { SCALINGS } from '../data/dataset.ts';

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a slug: lowercase letters, digits and dashes, at most 64');
const positiveInt = z.number().int().min(1);
/** Keras's preprocess_input modes, or PyTorch's transforms.Normalize arguments (per channel, on [0, 1]). */
const scale = z.union([
  z.enum(SCALINGS),
  z.object({
    mean: z.array(z.number()).min(1).max(3),
    std: z.array(z.number().positive()).min(1).max(3),
  }).strict().refine((n) => n.mean.length === n.std.length && n.mean.length !== 2, { message: 'mean and std need 1 or 3 values each' }),
]);

export const DatasetConfig = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('fashion-mnist'),
    /** Folder with the four IDX files (default: CONVLENS_FASHION_MNIST, then Debian's). */
    dir: z.string().optional(),
    /** Training images held out for validation. */
    validation: positiveInt.default(5000),
  }).strict(),
  z.object({
    kind: z.literal('shapes'),
    train: positiveInt.default(3000),
    validation: positiveInt.default(500),
    test: positiveInt.default(500),
    size: z.number().int().min(16).max(512).default(64),
    /** Background colour predicts the class in the training split only (the "cheating model" data). */
    shortcut: z.boolean().default(false),
    clutter: z.number().min(0).max(1).default(0.5),
  }).strict(),
  z.object({
    kind: z.literal('folder'),
    /** Class sub-folders of training images (omit to show an untrained model on `test`). */
    train: z.string().optional(),
    /** Class sub-folders of test images; samples and evaluation come from here. */
    test: z.string(),
    validation: positiveInt.default(500),
    /** Images are resized to this (default 64x64; 224x224 for a model with ImageNet weights). */
    size: z.tuple([positiveInt, positiveInt]).optional(),
    channels: z.union([z.literal(1), z.literal(3)]).default(3),
    /** Default '/255'; for ImageNet weights the architecture's Keras preprocessing ('caffe' for VGG, 'tf' for MobileNetV2). */
    scale: scale.optional(),
  }).strict(),
]);
export type DatasetConfig = z.infer<typeof DatasetConfig>;

export const TrainingConfig = z.object({
  epochs: positiveInt.default(5),
  batchSize: positiveInt.default(32),
  learningRate: z.number().positive().default(1e-3),
  /** Cosine decay of the learning rate to 5 % over the epochs. */
  cosine: z.boolean().default(false),
  /** Seeded augmentation of the training images, as Keras's RandomFlip/Rotation/Zoom/Translation/Contrast layers. */
  augment: z.object({
    flip: z.boolean().optional(),
    rotation: z.number().min(0).max(0.5).optional(),
    zoom: z.number().min(0).max(0.9).optional(),
    translation: z.number().min(0).max(0.5).optional(),
    contrast: z.number().min(0).max(0.9).optional(),
  }).strict().optional(),
  /** Early stopping: end a phase when validation loss has not improved for this many epochs (the best epoch is kept). */
  patience: positiveInt.optional(),
  /**
   * Train in this many data-parallel replicas (worker threads, each on its share of the cores): faster on a
   * machine with the cores for them. Part of the result — batch norm sees each replica's shard of the batch —
   * so it is a setting of the model, never chosen from the machine: the same config gives the same report anywhere.
   */
  replicas: z.number().int().min(1).max(64).optional(),
}).strict().refine((t) => (t.replicas ?? 1) <= t.batchSize, { message: 'replicas must not exceed batchSize (each replica takes a shard of every batch)', path: ['replicas'] });

export const ActmaxConfig = z.object({
  /** Channels per conv layer (the first ones). */
  maxChannels: z.number().int().min(0).default(16),
  steps: positiveInt.default(96),
  /** At most this many conv layers, spread evenly from first to last (deep models); default all. */
  maxLayers: z.number().int().min(0).optional(),
  /**
   * 'fourier' (default): Lucid's parametrisation — a 1/f-scaled spectrum, decorrelated colour, random pad, scale,
   * rotation and jitter at every step, Adam; 'pixel': gradient ascent on the pixels with jitter, TV and L2.
   */
  method: z.enum(['fourier', 'pixel']).default('fourier'),
  /** Images per channel, kept apart by a diversity term (Fourier only). */
  images: z.number().int().min(1).max(4).default(1),
}).strict();

const zooNames = Object.keys(ZOO) as [string, ...string[]];

export const ZooModelConfig = z.object({
  id: slug,
  title: z.string().min(1).max(200).optional(),
  zoo: z.enum(zooNames),
  /** Architecture options passed to the builder (MobileNetV2: alpha, head, bnMomentum; VGG: includeTop). */
  options: z.record(z.unknown()).default({}),
  dataset: DatasetConfig,
  /**
   * 'imagenet': Keras's ImageNet weights (vgg16, vgg19, mobilenetv2), downloaded once from Keras's URLs, checked
   * and cached in ~/.cache/convlens (CONVLENS_CACHE). With the ImageNet top the model explains photos with the 1000
   * ImageNet classes; with `options.head: 'transfer'` the weights fill the base, which stays frozen while
   * `training` fits the new head.
   */
  weights: z.literal('imagenet').optional(),
  /** Omit to show the model with its random initial weights (what untrained filters see). */
  training: TrainingConfig.optional(),
  /**
   * After training the head on the frozen base: unfreeze from this layer on (BatchNorm stays frozen) and train
   * `epochs` more at a small `learningRate` — the second step of Keras's transfer-learning recipe.
   */
  fineTune: z.object({ from: z.string().min(1), epochs: positiveInt.default(2), learningRate: z.number().positive().default(1e-5) }).strict().optional(),
  actmax: ActmaxConfig.optional(),
  /** Only the architecture pages (summary, diagram, layers): for very large models. */
  summaryOnly: z.boolean().default(false),
  /** Layer for Grad-CAM and its relatives (default: the last conv layer's output after its activation). */
  camLayer: z.string().min(1).optional(),
  /** Shapes data: test images on which every method's pointing game and mask energy are scored (default 100). */
  localizationImages: z.number().int().min(0).max(10000).optional(),
}).strict();

export const LoadedModelConfig = z.object({
  id: slug.optional(),
  /** The model's name on the pages (default: its file name, or its folder's for model.json). */
  title: z.string().min(1).max(200).optional(),
  /** model.json (TensorFlow.js), .h5 (Keras 2) or .keras (Keras 3), relative to the config file. */
  load: z.string().min(1),
  /** Image folder, relative to the config file: class sub-folders (labeled), or a flat folder of photos (unlabeled). */
  data: z.string().min(1),
  /** Class names in output order, or a file with one per line (default: sub-folders, or metadata.json's labels). */
  classes: z.union([z.array(z.string().min(1)).min(2), z.string().min(1)]).optional(),
  /**
   * How pixels become inputs (Keras's preprocess_input modes): '/255' → [0, 1]; '[-1,1]' or 'tf' (MobileNet,
   * Teachable Machine; read from metadata.json); 'caffe' (BGR minus ImageNet means: VGG, ResNet50); 'torch'.
   */
  scale: scale.optional(),
  actmax: ActmaxConfig.optional(),
  summaryOnly: z.boolean().default(false),
  camLayer: z.string().min(1).optional(),
}).strict();

export const ModelConfig = z.union([ZooModelConfig, LoadedModelConfig]);

const methodIds = ATTRIBUTION_METHODS.map((m) => m.id) as [string, ...string[]];

export const Config = z.object({
  seed: z.number().int().min(0).default(2),
  out: z.string().min(1).default('dist'),
  backend: z.enum(['node-gpu', 'node', 'wasm', 'cpu']).optional(),
  /** Epochs of the default report's LeNet-5 (zoo models set their own). */
  epochs: positiveInt.optional(),
  models: z.array(ModelConfig).min(1).optional(),
  samples: z.object({
    /** Test samples per class (the first of each class). */
    perClass: z.number().int().min(0).max(100).default(1),
    /** The most confident mistakes added to them. */
    mistakes: z.number().int().min(0).max(100).default(2),
    /** Explicit samples by id (Fashion-MNIST: fashion-mnist-test-<i>; folders: the file's path in the folder). */
    ids: z.array(z.string()).optional(),
    /** Photos of an unlabeled folder explained, at most (file-name order; the page says when some were left out). */
    max: z.number().int().min(1).max(10000).default(32),
  }).strict().default({}),
  /** Per method: its parameters, or false to skip it. Unlisted methods run with their defaults. */
  methods: z.record(z.enum(methodIds), z.union([z.literal(false), z.record(z.unknown())])).default({}),
  /** Layers to show (activation grids, filters, actmax); default all. */
  layers: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
  /**
   * Seconds each model's explanations should take on the reference machine (2 cores), estimated from the model's
   * counted cost, not a clock: optional work (extra curve steps, class images, the randomization check's depth,
   * activation maximization, dataset examples, then IG steps and SmoothGrad copies) is trimmed to fit, and the
   * model page lists each cut. Default 150 (a loaded model's whole report within three to five minutes); `false`: nothing
   * is trimmed.
   */
  budget: z.union([z.number().positive(), z.literal(false)]).optional(),
  /** MiB a batch may hold (default: three quarters of what the engine's 4 GiB heap has free beside the weights). */
  memory: z.number().int().min(16).optional(),
  /**
   * Deletion/insertion curves: what removed pixels become — 'blur' (a blurred copy of the image, RISE's protocol,
   * the default) or 'black'.
   */
  faithfulness: z.object({
    baseline: z.enum(['blur', 'black']).default('blur'),
    /** ROAD's imputed-removal curves (default: on for models under 0.25 GFLOPs per image). */
    road: z.boolean().optional(),
  }).strict().default({}),
  /**
   * Dataset examples per channel of every conv layer: test images scanned (default 1,000; 300 and 100 on large
   * models; 0 = none), images per list (default 5), channels per layer (default all, or the first 64 when the conv
   * layers have more than 4,000 channels in all).
   */
  datasetExamples: z.object({
    images: z.number().int().min(0).max(100000).optional(),
    k: z.number().int().min(1).max(16).optional(),
    maxChannels: z.number().int().min(1).optional(),
  }).strict().default({}),
}).strict();

export type ConfigInput = z.input<typeof Config>;
export type Config = z.infer<typeof Config>;
export type ZooModelConfig = z.infer<typeof ZooModelConfig>;
export type LoadedModelConfig = z.infer<typeof LoadedModelConfig>;
