/**
 * dist/models/<model>/report.json: machine-readable results for CI gates. Byte-identical across runs with one
 * config (no timings, no dates: those go to dist/build-info.json).
 */
import type { Manifest, ModelReport } from './schema.ts';

/**
 * 2: `version`, and per sample its slug, every class's probability and each method's .npy. A report.json without
 * `version` is 1 (convlens's first reports): `--compare` reads what it holds.
 */
export const REPORT_JSON_VERSION = 2;

export function reportJson(model: ModelReport, manifest: Manifest): object {
  const classes = model.dataset.classes;
  return {
    version: REPORT_JSON_VERSION,
    model: model.slug,
    title: model.title,
    architecture: model.architecture,
    ...(model.multiLabel ? { multiLabel: true } : {}),
    backend: manifest.engine.backend,
    seed: model.training?.seed,
    dataset: {
      name: model.dataset.name, classes, labeled: model.dataset.labeled, trainCount: model.dataset.trainCount, validationCount: model.dataset.validationCount, testCount: model.dataset.testCount,
      ...(model.dataset.omitted ? { omitted: model.dataset.omitted } : {}),
    },
    layers: model.layers.map((l) => ({ name: l.name, className: l.className, outputShape: l.outputShape, params: l.params, ...(l.parents.length ? { nestedIn: l.parents } : {}) })),
    totalParams: model.totalParams,
    trainableParams: model.trainableParams,
    training: model.training && { epochs: model.training.epochs, batchSize: model.training.batchSize, learningRate: model.training.learningRate, history: model.training.history },
    metrics: model.evaluation && {
      accuracy: model.evaluation.testAccuracy,
      loss: model.evaluation.testLoss,
      topK: model.evaluation.topK,
      perClass: model.evaluation.perClass.map((p, i) => ({ class: classes[i], ...p })),
    },
    confusionMatrix: model.evaluation?.confusion,
    camLayer: model.camLayer,
    // The methods this model ran (a config can skip some), with their parameters.
    methods: manifest.methods.flatMap((m) => {
      const a = model.samples[0]?.attributions.find((x) => x.method === m.id);
      return a ? [{ id: m.id, title: m.title, params: a.params }] : [];
    }),
    localization: model.localization,
    randomization: model.randomization && {
      sample: model.randomization.sample,
      steps: model.randomization.steps.map((st) => ({ layer: st.layer, spearman: st.correlation })),
    },
    samples: model.samples.map((s) => ({
      id: s.id,
      slug: s.slug,
      file: s.image.src,
      label: classes[s.label],
      predicted: s.predicted >= 0 ? classes[s.predicted] : null,
      probability: s.probability,
      top: s.top.map((t) => ({ label: t.label, probability: t.probability })),
      ...(s.probabilities ? { probabilities: s.probabilities } : {}),
      // A multi-label model's labels for this sample: every class whose own probability is above 0.5.
      ...(model.multiLabel && s.probabilities ? { above: classes.filter((_, k) => s.probabilities![k] > 0.5) } : {}),
      // Each method's raw map (.npy, site-absolute): what `--compare` reads of a published report.
      maps: Object.fromEntries(s.attributions.map((a) => [a.method, a.npy])),
      faithfulness: Object.fromEntries(s.attributions.filter((a) => a.faithfulness).map((a) => [a.method, { deletionAuc: a.faithfulness!.deletionAuc, insertionAuc: a.faithfulness!.insertionAuc }])),
      ...(s.baselines ? { faithfulnessBaselines: { random: { deletionAuc: s.baselines.random.deletionAuc, insertionAuc: s.baselines.random.insertionAuc }, edges: { deletionAuc: s.baselines.edges.deletionAuc, insertionAuc: s.baselines.edges.insertionAuc } } } : {}),
    })),
    ...(model.work?.faithfulness ? { faithfulnessProtocol: model.work.faithfulness } : {}),
    // Per conv layer and channel: the test images that excite it most (max, with the peak's input box; mean) and least.
    datasetExamples: Object.fromEntries(model.layerViews.filter((v) => v.datasetExamples).map((v) => [v.layer, {
      images: v.datasetExamples!.images,
      field: v.datasetExamples!.field,
      channels: v.datasetExamples!.channels.map((c) => ({ channel: c.channel, max: c.max, mean: c.mean, least: c.least })),
    }])),
  };
}
