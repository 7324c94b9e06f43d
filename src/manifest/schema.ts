/**
 * The manifest: the one contract between the pipeline (Node, TensorFlow.js) and the site (Astro).
 * The pipeline writes it with `writeManifest`; every page parses it with `readManifest`. Neither side
 * imports the other. Asset paths are site-absolute URLs under /generated/.
 */
import { z } from 'zod';

/** An image written by the pipeline. */
export const Asset = z.object({
  /** Site URL, e.g. /generated/lenet5/samples/3/grad-cam.png */
  src: z.string().startsWith('/generated/'),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** What the image shows, for alt text. */
  alt: z.string(),
});
export type Asset = z.infer<typeof Asset>;

/** One layer row of a Keras-style summary, with its place in the graph and the input. */
export const LayerSummary = z.object({
  /** Layer name as in the model (Keras names for zoo models). */
  name: z.string(),
  /** URL-safe, unique within the model. */
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  /** tfjs/Keras class name, e.g. `Conv2D`. */
  className: z.string(),
  /** Output shape without the batch axis. */
  outputShape: z.array(z.number().int().nullable()),
  /** Number of weights, trainable and not. */
  params: z.number().int().nonnegative(),
  trainableParams: z.number().int().nonnegative().default(0),
  /** Names of the layers feeding this one (functional models branch and merge). */
  inbound: z.array(z.string()).default([]),
  /** The layer's config (Keras get_config), as JSON. */
  config: z.record(z.unknown()).default({}),
  /** The nested models this layer sits in, outermost first (a Teachable Machine base: ['sequential_1']). */
  parents: z.array(z.string()).default([]),
  /** Receptive field size, jump and start in input pixels (conv/pool layers and what follows them). */
  field: z.object({ rf: z.tuple([z.number(), z.number()]), jump: z.tuple([z.number(), z.number()]), start: z.tuple([z.number(), z.number()]), global: z.boolean() }).optional(),
});

/** Metrics of one training epoch. */
export const EpochRecord = z.object({
  epoch: z.number().int().positive(),
  loss: z.number(),
  acc: z.number().min(0).max(1),
  val_loss: z.number().optional(),
  val_acc: z.number().min(0).max(1).optional(),
  /** Epochs of the fine-tuning phase (after the frozen-base phase). */
  phase: z.literal('fine-tune').optional(),
});

export const MethodInfo = z.object({
  id: z.string(),
  title: z.string(),
  family: z.enum(['gradient', 'cam', 'perturbation']),
  signed: z.boolean(),
  reference: z.string(),
});

/**
 * Deletion / insertion curves (RISE, Petsiuk et al. 2018): target probability as pixels go (into the fill image)
 * and come back (onto it), at `fractions` of the pixels; AUCs by the trapezoid rule over the fractions.
 */
export const Curves = z.object({
  deletion: z.array(z.number()),
  insertion: z.array(z.number()),
  deletionAuc: z.number(),
  insertionAuc: z.number(),
  /** Fraction of pixels changed at each point (absent in reports before the quadratic spacing: even steps). */
  fractions: z.array(z.number()).optional(),
  /** ROAD (Rong et al. 2022): removed pixels imputed from their neighbours; most / least relevant first. */
  road: z.object({ fractions: z.array(z.number()), morf: z.array(z.number()), lerf: z.array(z.number()), morfAuc: z.number(), lerfAuc: z.number() }).optional(),
});

/** One attribution of one sample: the image, the raw array, the scale the colours stand for. */
export const Attribution = z.object({
  method: z.string(),
  image: Asset,
  /** Raw float map [H, W] as NumPy .npy. */
  npy: z.string().startsWith('/generated/'),
  /** The raw value that full colour stands for (see the normalisation contract). */
  scale: z.number(),
  params: z.record(z.unknown()),
  /** CAM layer, when the method uses one. */
  layer: z.string().optional(),
  extras: z.record(z.number()).default({}),
  /** Deletion / insertion curves (RISE, Petsiuk et al. 2018): target probability as pixels go / come back. */
  faithfulness: z.lazy(() => Curves).optional(),
  milliseconds: z.number().nonnegative(),
});

export const Sample = z.object({
  /** Stable dataset id, e.g. fashion-mnist/test/17, or a photo's file name. */
  id: z.string(),
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  /** −1 for an unlabeled photo. */
  label: z.number().int(),
  /** −1 for models without a classifier head. */
  predicted: z.number().int(),
  probability: z.number(),
  top: z.array(z.object({ index: z.number().int(), label: z.string(), probability: z.number() })),
  /** Every class's probability (6 significant digits): what a later report compares with. */
  probabilities: z.array(z.number()).optional(),
  image: Asset,
  attributions: z.array(Attribution),
  /** The same curves for two maps blind to the model: a random pixel order and the image's edges (Sobel). */
  baselines: z.object({ random: Curves, edges: Curves }).optional(),
});

export const ChannelStats = z.object({
  mean: z.array(z.number()),
  max: z.array(z.number()),
  zeroFraction: z.array(z.number()),
  dead: z.array(z.boolean()),
});

/** One dataset example of a channel: the image's id, the activation (max or mean), the maximising unit's box. */
export const DatasetExample = z.object({ id: z.string(), value: z.number(), box: z.tuple([z.number(), z.number(), z.number(), z.number()]).optional() });

export const LayerView = z.object({
  layer: z.string(),
  /** Per sample: the grid of every channel (per-channel standardisation, viridis). */
  grids: z.array(z.object({ sample: z.string(), image: Asset, columns: z.number().int(), tile: z.tuple([z.number(), z.number()]), channels: z.number().int().positive().optional() })),
  /** Per channel, first sample, full size: anchors #channel-N point here. */
  channels: z.array(Asset),
  /** Sum over channels per sample (the fused map: the sum over channels). */
  fused: z.array(z.object({ sample: z.string(), image: Asset })),
  stats: ChannelStats.optional(),
  /** Dense layers: the sample's activations as a bar chart is drawn by the site from these numbers. */
  vectors: z.array(z.object({ sample: z.string(), values: z.array(z.number()) })).default([]),
  /** Conv kernels: one image per input channel (grayscale, min–max) or RGB for the first layer. */
  filters: Asset.optional(),
  /**
   * Dataset examples per channel (conv layers): the test images with the highest maximum activation (with the
   * maximising unit's receptive-field box [y0, x0, y1, x1) in input pixels), the highest and the lowest mean
   * activation, drawn as one picture per channel.
   */
  datasetExamples: z.object({
    /** Test images scanned. */
    images: z.number().int().positive(),
    k: z.number().int().positive(),
    /** The layer's receptive field [rows, columns]: the size of the patches. */
    field: z.tuple([z.number(), z.number()]),
    channels: z.array(z.object({
      channel: z.number().int().nonnegative(),
      image: Asset,
      max: z.array(DatasetExample),
      mean: z.array(DatasetExample),
      least: z.array(DatasetExample),
    })),
  }).optional(),
  /** Activation maximization of the first channels: the input that most excites each, and the mean activation reached. */
  actmax: z.array(z.object({ channel: z.number().int(), image: Asset, value: z.number() })).default([]),
});

export type LayerView = z.infer<typeof LayerView>;

export const ModelReport = z.object({
  /** URL-safe identifier, used in /models/<slug>/. */
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  title: z.string(),
  architecture: z.string(),
  dataset: z.object({
    name: z.string(),
    classes: z.array(z.string()).min(2),
    trainCount: z.number().int().nonnegative(),
    /** Held out of training for model selection (best epoch). */
    validationCount: z.number().int().nonnegative().default(0),
    testCount: z.number().int().positive(),
    preview: Asset.optional(),
    /**
     * The training and validation images carry a shortcut (shapes: background colour = class) that the test
     * images lack: the "cheating model" showcase.
     */
    shortcut: z.boolean().optional(),
    /** False for a flat folder of the user's photos: no accuracy, confusion matrix or mistakes. */
    labeled: z.boolean().default(true),
    /** Photos of an unlabeled folder left out by the sample limit. */
    omitted: z.number().int().nonnegative().default(0),
  }),
  layers: z.array(LayerSummary).min(1),
  totalParams: z.number().int().positive(),
  trainableParams: z.number().int().nonnegative(),
  /** Absent for models shown with their initial (random) weights. */
  training: z.object({
    epochs: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    learningRate: z.number().positive(),
    seed: z.number().int(),
    history: z.array(EpochRecord),
    /** Loss and accuracy per epoch as SVG charts. */
    charts: z.array(Asset).default([]),
  }).optional(),
  /** Absent for models without a classifier head (feature extractors). */
  evaluation: z.object({
    testAccuracy: z.number().min(0).max(1),
    testLoss: z.number(),
    topK: z.record(z.number()).default({}),
    /** confusion[true][predicted] = count of test images. */
    confusion: z.array(z.array(z.number().int().nonnegative())),
    perClass: z.array(z.object({ precision: z.number(), recall: z.number(), f1: z.number(), support: z.number().int() })).default([]),
    /** Per off-diagonal cell, its most confident mistakes (the misclassified gallery). */
    mistakes: z.array(z.object({
      true: z.number().int(),
      predicted: z.number().int(),
      samples: z.array(z.object({ id: z.string(), probability: z.number(), image: Asset })),
    })).default([]),
  }).optional(),
  /** One-paragraph description shown on the model page. */
  description: z.string().default(''),
  /** k sigmoid units: each class its own probability (no renormalisation); every class above 0.5 is a label. */
  multiLabel: z.boolean().optional(),
  camLayer: z.string().optional(),
  /** Cascading randomization (Adebayo et al. 2018) on the first sample: maps and Spearman ρ per step. */
  randomization: z.object({
    sample: z.string(),
    original: z.record(Asset),
    steps: z.array(z.object({ layer: z.string(), correlation: z.record(z.number()), images: z.record(Asset) })),
  }).optional(),
  /**
   * Where each method points, scored against ground-truth object masks on the first `images` test images (shapes):
   * pointing game (peak on the object, within `tolerance` pixels) and share of positive attribution on it.
   */
  localization: z.object({
    images: z.number().int().positive(),
    tolerance: z.number().nonnegative(),
    objectArea: z.number().min(0).max(1),
    accuracy: z.number().min(0).max(1),
    methods: z.record(z.object({
      pointing: z.number().min(0).max(1),
      energy: z.number().min(0).max(1),
      pointingCorrect: z.number().min(0).max(1),
      energyCorrect: z.number().min(0).max(1),
      images: z.number().int().positive(),
      correct: z.number().int().nonnegative(),
    })),
  }).optional(),
  /**
   * Set while a model split by sample over shards is one part of itself; `merge` joins the parts. `explained`: the
   * positions (in `samples`) whose attributions this part computed.
   */
  part: z.object({ index: z.number().int().positive(), count: z.number().int().positive(), explained: z.array(z.number().int().nonnegative()).optional() }).optional(),
  /**
   * How the work was sized to the model: its forward FLOPs per image, the images per forward and gradient pass the
   * memory plan allowed, what the model's size changed from the defaults, what a time budget trimmed (with the
   * estimated seconds saved), and what could not run at all and why.
   */
  work: z.object({
    flops: z.number().nonnegative(),
    heavy: z.boolean(),
    batch: z.object({ forward: z.number().int().nonnegative(), gradient: z.number().int().nonnegative() }),
    memory: z.number().nonnegative(),
    notes: z.array(z.string()).default([]),
    budget: z.number().positive().optional(),
    trimmed: z.array(z.object({ what: z.string(), saved: z.number().nonnegative() })).default([]),
    skipped: z.array(z.object({ what: z.string(), why: z.string() })).default([]),
    /** How channel and class images were made: Lucid's Fourier parametrisation or pixel-space ascent, and steps. */
    featureVisualization: z.object({ method: z.enum(['fourier', 'pixel']), steps: z.number().int().nonnegative(), classSteps: z.number().int().nonnegative().optional() }).optional(),
    /** The deletion/insertion protocol: what removed pixels become (the blur's σ in pixels) and the steps per curve. */
    faithfulness: z.object({ baseline: z.enum(['blur', 'black']), blurSigma: z.number().positive().optional(), steps: z.number().int().positive(), road: z.boolean().default(false) }).optional(),
  }).optional(),
  /** Activation maximization of each class's logit. */
  classMax: z.array(z.object({ index: z.number().int(), image: Asset, value: z.number() })).default([]),
  samples: z.array(Sample).default([]),
  layerViews: z.array(LayerView).default([]),
});
export type ModelReport = z.infer<typeof ModelReport>;

export const Manifest = z.object({
  version: z.literal(1),
  /** The engine that computed everything: backend id and the selection line. */
  engine: z.object({ backend: z.string(), line: z.string() }),
  methods: z.array(MethodInfo).default([]),
  models: z.array(ModelReport),
});
export type Manifest = z.infer<typeof Manifest>;

/** The model's samples carry predictions and explanations (classifiers, labeled or not), so they get pages. */
export function isExplained(model: Pick<ModelReport, 'samples'>): boolean {
  return model.samples.some((s) => s.predicted >= 0);
}

/** The picture of a model (home card, link previews): its first sample's Grad-CAM overlay, else the sample. */
export function modelPicture(model: Pick<ModelReport, 'samples'>): Asset | undefined {
  const s = model.samples[0];
  return s?.attributions.find((a) => a.method === 'grad-cam')?.image ?? s?.image;
}
