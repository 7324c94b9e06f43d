/**
 * A validated config → the report's models (SpecEntry: slug, cost estimate for sharding, and how to make the
 * ModelSpec). No `models` key: the default report.
 */
import { fashionMnist, splitDataset, type Dataset } from '../data/dataset.ts';
import { loadImageFolder } from '../data/folder.ts';
import { generateShapes } from '../data/shapes.ts';
import { buildZooModel } from '../models/zoo.ts';
import { hasImagenetTop, imagenetClassNames, kerasPreprocessing, loadImagenetWeights } from '../models/pretrained.ts';
import { defaultEntries } from '../pipeline/default-report.ts';
import { loadedModelEntry } from '../pipeline/loaded-model.ts';
import { resolve } from 'node:path';
import type { ModelSpec } from '../pipeline/model-report.ts';
import { locateFashionMnist } from '../data/idx.ts';
import { fileStamps } from '../pipeline/report-cache.ts';
import type { SpecEntry } from '../pipeline/shards.ts';
import type { Config, LoadedModelConfig, ZooModelConfig } from './schema.ts';

/** What every model of the config shares: samples, methods, layers. */
function explainOptions(config: Config, index: number): Pick<ModelSpec, 'samples' | 'methods' | 'layers' | 'configKey' | 'memory' | 'budget' | 'faithfulnessBaseline' | 'road' | 'datasetExamples'> {
  return { samples: config.samples, methods: config.methods, layers: config.layers, configKey: `models[${index}]`, ...sizeOptions(config), faithfulnessBaseline: config.faithfulness.baseline, ...(config.faithfulness.road != null ? { road: config.faithfulness.road } : {}), datasetExamples: config.datasetExamples };
}

/** The config's `memory` (MiB → bytes) and `budget` (seconds), when set. */
export function sizeOptions(config: Pick<Config, 'memory' | 'budget'>): Pick<ModelSpec, 'memory' | 'budget'> {
  return { ...(config.memory != null ? { memory: config.memory * 2 ** 20 } : {}), ...(config.budget != null ? { budget: config.budget } : {}) };
}

interface Splits {
  train?: Dataset;
  validation?: Dataset;
  test: Dataset;
}

/** The model's data: training and validation splits only when the model is trained. */
async function datasets(m: ZooModelConfig, seed: number, samplesMax?: number): Promise<Splits> {
  const d = m.dataset;
  const trained = m.training != null;
  if (d.kind === 'fashion-mnist') {
    if (!trained) return { test: fashionMnist('test', d.dir) };
    const { train, validation } = splitDataset(fashionMnist('train', d.dir), d.validation, seed);
    return { train, validation, test: fashionMnist('test', d.dir) };
  }
  if (d.kind === 'shapes') {
    // The shortcut (class-coloured background) is in the training and validation splits only: the test split
    // shows what the model really learned.
    const opts = { size: d.size, clutter: d.clutter };
    if (!trained) return { test: generateShapes({ ...opts, count: d.test, seed: 3 }) };
    return {
      train: generateShapes({ ...opts, count: d.train, seed: 1, shortcut: d.shortcut }),
      validation: generateShapes({ ...opts, count: d.validation, seed: 2, shortcut: d.shortcut }),
      test: generateShapes({ ...opts, count: d.test, seed: 3 }),
    };
  }
  const pretrained = m.weights === 'imagenet';
  const folder = (dir: string, limitUnlabeled?: number) => loadImageFolder({
    dir, imageSize: d.size ?? (pretrained ? [224, 224] : [64, 64]), channels: d.channels,
    scaling: d.scale ?? (pretrained ? kerasPreprocessing(m.zoo) : '/255'), limitUnlabeled,
  });
  const test = await folder(d.test, samplesMax);
  if (!d.train || !trained) return { test };
  const all = await folder(d.train);
  if (all.classes.join() !== test.classes.join()) {
    throw new Error(`${d.test}: classes (${test.classes.join(', ')}) differ from ${d.train} (${all.classes.join(', ')}); both folders need the same class sub-folders`);
  }
  return { ...splitDataset(all, Math.min(d.validation, Math.floor(all.count / 5)), seed), test };
}

/** Rough seconds on the wasm engine, only to balance shards. */
function cost(m: ZooModelConfig): number {
  const count = m.dataset.kind === 'fashion-mnist' ? 55000 : m.dataset.kind === 'shapes' ? m.dataset.train : 2000;
  const perImage = m.zoo === 'mobilenetv2' || m.zoo.startsWith('vgg') ? 1 / 50 : 1 / 2500;
  return 10 + (m.training ? m.training.epochs * count * perImage : 0);
}

/** The files behind a data set (names, sizes, dates), for the report cache. */
function dataStamps(d: ZooModelConfig['dataset']): unknown {
  if (d.kind === 'fashion-mnist') return fileStamps(locateFashionMnist(d.dir));
  if (d.kind === 'folder') return { test: fileStamps(d.test), train: d.train ? fileStamps(d.train) : undefined };
  return undefined; // shapes: generated from the options alone
}

/** Folder paths of a zoo model's data, relative to the config file's folder. */
function withPaths(m: ZooModelConfig, baseDir: string): ZooModelConfig {
  const d = m.dataset;
  if (d.kind === 'folder') return { ...m, dataset: { ...d, test: resolve(baseDir, d.test), train: d.train && resolve(baseDir, d.train) } };
  if (d.kind === 'fashion-mnist' && d.dir) return { ...m, dataset: { ...d, dir: resolve(baseDir, d.dir) } };
  return m;
}

function zooEntry(raw: ZooModelConfig, config: Config, index: number, baseDir: string): SpecEntry {
  const m = withPaths(raw, baseDir);
  const classifier = !(m.zoo === 'random-cnn' || m.options.head === 'none');
  return {
    slug: m.id,
    cost: cost(m),
    inDefault: true,
    recipe: () => ({ model: m, seed: config.seed, samples: config.samples, methods: config.methods, layers: config.layers, data: dataStamps(m.dataset), size: sizeOptions(config) }),
    make: async (): Promise<ModelSpec> => {
      const data = await datasets(m, config.seed, config.samples.max);
      const t = m.training;
      if (t && !data.train) throw new Error(`models[${index}].training: the dataset has no training images; set dataset.train or drop training`);
      const inputShape = data.test.shape as [number, number, number];
      const imagenet = m.weights === 'imagenet' && hasImagenetTop(m.zoo, m.options);
      if (imagenet && t) throw new Error(`models[${index}].training: the ImageNet top has ImageNet's 1000 classes; to train on your classes set options.head: 'transfer'`);
      if (m.fineTune && !t) throw new Error(`models[${index}].fineTune: fine-tuning follows training; add training (the head on the frozen base first)`);
      const unlabeled = (data.test as { labeled?: boolean }).labeled === false;
      if (imagenet) {
        // The ImageNet classifier: Keras's class names; photos unlabeled, or in folders named by ImageNet classes.
        const names = await imagenetClassNames({ log: (l) => console.error(`${m.id}: ${l}`) });
        const labels = unlabeled ? data.test.labels : data.test.labels.map((k) => {
          const i = names.indexOf(data.test.classes[k]);
          if (i < 0) throw new Error(`${data.test.name}: folder '${data.test.classes[k]}' is not an ImageNet class name (e.g. ${names.slice(0, 3).join(', ')}); use a flat folder of photos, or folders named by ImageNet classes`);
          return i;
        });
        data.test = { ...data.test, classes: names, numClasses: names.length, labels: Int32Array.from(labels) };
      }
      const unlabeledOptions = unlabeled ? {
        labeled: false, dataName: data.test.name,
        omittedSamples: ((data.test as { total?: number }).total ?? data.test.count) - data.test.count,
        samples: { perClass: 0, mistakes: 0, ids: data.test.ids },
      } : {};
      if (unlabeled && !imagenet) throw new Error(`models[${index}].dataset.test: ${data.test.name} has no class sub-folders; a zoo model needs labeled test images unless it keeps the ImageNet top (weights: 'imagenet')`);
      return {
        slug: m.id,
        title: m.title ?? `${m.zoo} on ${data.test.name.split('/')[0]}`,
        architecture: `${m.zoo} (convlens zoo)${Object.keys(m.options).length ? ` with ${JSON.stringify(m.options)}` : ''}`,
        description: `${m.zoo} ${m.weights === 'imagenet' ? (imagenet ? "with Keras's ImageNet weights (1000 classes)" : `with Keras's ImageNet weights in its frozen base${t ? `, a new head trained for ${t.epochs} epochs${m.fineTune ? ` and fine-tuned from ${m.fineTune.from} for ${m.fineTune.epochs} more` : ''}` : ''}`) : t ? `trained for ${t.epochs} epochs` : 'with its random initial weights'} on ${data.test.name.split('/')[0]}, from the config's models[${index}].`,
        identity: { zoo: m.zoo, options: m.options, inputShape, numClasses: data.test.numClasses, ...(m.weights ? { weights: m.weights } : {}) },
        build: async () => {
          const model = buildZooModel(m.zoo, { inputShape, numClasses: data.test.numClasses, seed: config.seed, extra: m.options });
          if (m.weights === 'imagenet') {
            try {
              await loadImagenetWeights(model, m.zoo, m.options, { log: (l) => console.error(`${m.id}: ${l}`) });
            } catch (err) {
              model.dispose();
              throw err;
            }
          }
          return model;
        },
        training: t && data.train && data.validation ? { train: data.train, validation: data.validation, ...t, ...(m.fineTune ? { fineTune: m.fineTune } : {}) } : undefined,
        test: data.test,
        classifier,
        seed: config.seed,
        actmax: m.actmax,
        shortcut: m.dataset.kind === 'shapes' && m.dataset.shortcut,
        summaryOnly: m.summaryOnly,
        camLayer: m.camLayer,
        localizationImages: m.localizationImages,
        ...explainOptions(config, index),
        ...unlabeledOptions,
      };
    },
  };
}

function loadedEntry(m: LoadedModelConfig, config: Config, index: number, baseDir: string): SpecEntry {
  return loadedModelEntry(
    { modelPath: m.load, dataDir: m.data, classes: m.classes, scaling: m.scale, scalingKey: `models[${index}].scale`, seed: config.seed, samplesMax: config.samples.max, cwd: baseDir, title: m.title },
    { slug: m.id, actmax: m.actmax, summaryOnly: m.summaryOnly, camLayer: m.camLayer, ...explainOptions(config, index) },
  );
}

/** The config's models (paths relative to `baseDir`, the config file's folder), or the default report's. */
export function configEntries(config: Config, cli: { epochs?: number } = {}, baseDir = process.cwd()): SpecEntry[] {
  if (!config.models) {
    const entries = defaultEntries({ epochs: cli.epochs ?? config.epochs ?? 3, seed: config.seed });
    return entries.map((e) => ({
      ...e,
      recipe: e.recipe && (() => ({ base: e.recipe!(), samples: config.samples, methods: config.methods, layers: config.layers, size: sizeOptions(config) })),
      make: async () => {
        const spec = await e.make();
        // A default model's own method parameters (the GAP CNNs' cheaper IG) yield to the config's, method by method.
        return { ...spec, samples: config.samples, methods: { ...spec.methods, ...config.methods }, layers: config.layers, configKey: undefined, ...sizeOptions(config) };
      },
    }));
  }
  const seen = new Set<string>();
  return config.models.map((m, i) => {
    const entry = 'load' in m ? loadedEntry(m, config, i, baseDir) : zooEntry(m, config, i, baseDir);
    if (seen.has(entry.slug)) throw new Error(`models[${i}].id: '${entry.slug}' is used twice; give each model its own id`);
    seen.add(entry.slug);
    return entry;
  });
}
