/**
 * Components rendered with Astro's container API, their props parsed by the zod schemas in
 * src/components/props.ts: valid props render the right markup; wrong props fail naming the component and prop.
 */
import { experimental_AstroContainer as AstroContainer } from 'astro/container';
import { beforeAll, describe, expect, it } from 'vitest';
import Architecture from '../../src/components/Architecture.astro';
import Figure from '../../src/components/Figure.astro';
import MethodExamples from '../../src/components/MethodExamples.astro';
import ModelCards from '../../src/components/ModelCards.astro';
import ReportLink from '../../src/components/ReportLink.astro';
import TrustSummary from '../../src/components/TrustSummary.astro';
import { Manifest } from '../../src/manifest/schema.ts';

let container: AstroContainer;
beforeAll(async () => {
  container = await AstroContainer.create();
});

const asset = (name: string, alt = name) => ({ src: `/generated/m/${name}.png`, width: 28, height: 28, alt });

/** A small manifest: one model, two samples, two methods, a randomization strip — parsed by the real schema. */
const manifest = Manifest.parse({
  version: 1,
  engine: { backend: 'wasm', line: 'engine: wasm (test)' },
  methods: [
    { id: 'grad-cam', title: 'Grad-CAM', family: 'cam', signed: false, reference: 'Selvaraju et al. 2017' },
    { id: 'saliency', title: 'Vanilla saliency', family: 'gradient', signed: false, reference: 'Simonyan et al. 2014' },
  ],
  models: [{
    slug: 'm', title: 'Tiny <b>model</b>', architecture: 'a', description: 'd',
    dataset: { name: 'shapes', classes: ['circle', 'square'], trainCount: 10, validationCount: 2, testCount: 4 },
    layers: [
      { name: 'input_1', slug: 'input-1', className: 'InputLayer', outputShape: [null, 8, 8, 3], params: 0, trainableParams: 0, inbound: [] },
      { name: 'conv', slug: 'conv', className: 'Conv2D', outputShape: [null, 6, 6, 4], params: 112, trainableParams: 112, inbound: ['input_1'] },
    ],
    totalParams: 112, trainableParams: 112,
    evaluation: {
      testAccuracy: 0.75, testLoss: 0.5, topK: { 1: 0.75 }, confusion: [[2, 0], [1, 1]],
      perClass: [{ precision: 0.67, recall: 1, f1: 0.8, support: 2 }, { precision: 1, recall: 0.5, f1: 0.67, support: 2 }],
      mistakes: [],
    },
    samples: [0, 1].map((i) => ({
      id: `s-${i}`, slug: `s-${i}`, label: i, predicted: 0, probability: 0.9, top: [], image: asset(`in-${i}`),
      attributions: [
        { method: 'grad-cam', image: asset(`gc-${i}`, `Grad-CAM for s-${i}`), npy: `/generated/m/gc-${i}.npy`, scale: 1, params: {}, extras: { pointingHit: i, energyInside: 0.5 },
          faithfulness: { deletionAuc: 0.2, insertionAuc: 0.7, deletion: [1, 0], insertion: [0, 1] }, milliseconds: 1 },
        { method: 'saliency', image: asset(`sal-${i}`), npy: `/generated/m/sal-${i}.npy`, scale: 1, params: {}, extras: {},
          faithfulness: { deletionAuc: 0.4, insertionAuc: 0.6, deletion: [1, 0], insertion: [0, 1] }, milliseconds: 1 },
      ],
    })),
    layerViews: [],
    randomization: {
      sample: 's-0',
      original: { 'grad-cam': asset('r-gc'), saliency: asset('r-sal') },
      steps: [{ layer: 'conv', correlation: { 'grad-cam': 0.05, saliency: 0.8 }, images: { 'grad-cam': asset('r-gc-1'), saliency: asset('r-sal-1') } }],
    },
  }],
});

describe('<Figure>', () => {
  it('renders size, alt text, lazy loading and a link to the full-size file', async () => {
    const html = await container.renderToString(Figure, { props: { asset: asset('a', 'Grad-CAM for "x" <y>') } });
    expect(html).toMatch(/<a href="\/generated\/m\/a\.png"[^>]*><img src="\/generated\/m\/a\.png" width="28" height="28" alt="Grad-CAM for &#34;x&#34; <y>" loading="lazy"/); // quotes escaped: the attribute cannot be closed early
  });

  it('eager, without link, with a caption', async () => {
    const html = await container.renderToString(Figure, { props: { asset: asset('a'), eager: true, link: false, caption: 'cap' } });
    expect(html).not.toContain('<a ');
    expect(html).toContain('loading="eager"');
    expect(html).toMatch(/<figcaption[^>]*>cap<\/figcaption>/);
  });

  it.each([
    [{ asset: { ...asset('a'), src: 'https://evil.example/a.png' } }, '<Figure>: prop asset.src'],
    [{ asset: { ...asset('a'), width: 0 } }, '<Figure>: prop asset.width'],
    [{ asset: asset('a'), lazy: true }, `<Figure>: prop (props): Unrecognized key(s) in object: 'lazy'`],
    [{ asset: asset('a'), id: 'x y' }, '<Figure>: prop id'],
  ])('refuses %j', async (props, message) => {
    await expect(container.renderToString(Figure, { props })).rejects.toThrow(message);
  });
});

describe('<Architecture>', () => {
  it('links every node to its layer page', async () => {
    const html = await container.renderToString(Architecture, { props: { layers: manifest.models[0].layers, base: '/models/m', title: 'Tiny' } });
    expect(html).toContain('href="/models/m/layers/input-1/"');
    expect(html).toContain('href="/models/m/layers/conv/"');
    expect(html).toContain('aria-label="Architecture of Tiny: 2 layers"');
  });

  it('refuses a base outside /models/', async () => {
    await expect(container.renderToString(Architecture, { props: { layers: manifest.models[0].layers, base: '/../x', title: 'T' } })).rejects.toThrow('<Architecture>: prop base');
  });
});

describe('<ModelCards>', () => {
  it('one card per model with escaped title, accuracy and parameters', async () => {
    const html = await container.renderToString(ModelCards, { props: { manifest } });
    expect(html).toContain('href="/models/m/"');
    expect(html).toContain('Tiny &lt;b&gt;model&lt;/b&gt;');
    expect(html).toContain('test accuracy 75.0 %');
    expect(html).toContain('112 parameters');
  });
});

describe('<ReportLink>', () => {
  it("links a model of this report, and is plain text in a report without it (a user's report reading the guides)", async () => {
    const here = await container.renderToString(ReportLink, { props: { model: 'm', section: 'localization', manifest }, slots: { default: 'the model' } });
    expect(here).toContain('href="/models/m/#localization"');
    const absent = await container.renderToString(ReportLink, { props: { model: 'gap-cnn-shapes', manifest }, slots: { default: 'GAP CNN' } });
    expect(absent).not.toContain('<a');
    expect(absent).toContain('GAP CNN');
  });
});

describe('<MethodExamples>', () => {
  it('shows faithfulness with its rank, the pointing game, the randomization verdict and every sample', async () => {
    const html = await container.renderToString(MethodExamples, { props: { method: 'grad-cam', manifest } });
    const text = html.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ');
    expect(text).toContain('Over 2 samples: mean deletion AUC 0.200 (rank 1 of 2, lower is better), mean insertion AUC 0.700');
    expect(text).toContain('pointing game 0.50');
    expect(text).toContain('The map stays similar (|ρ| &gt; 0.5) in 0 of 1 steps; with every layer random, ρ = 0.05: the map changed with the weights — it passes.');
    expect(html).toContain('href="/models/m/samples/s-0/"');
    expect(html).toContain('href="/models/m/samples/s-1/"');
    const sal = (await container.renderToString(MethodExamples, { props: { method: 'saliency', manifest } })).replace(/<[^>]+>/g, '');
    expect(sal).toContain('rank 2 of 2');
    expect(sal).toContain('it fails the check');
  });

  it('refuses a method the report does not have', async () => {
    await expect(container.renderToString(MethodExamples, { props: { method: 'grad-camm', manifest } })).rejects.toThrow(`<MethodExamples>: prop method: 'grad-camm' is not one of this report's methods (grad-cam, saliency)`);
  });
});

/** The same manifest with a localization benchmark over 40 test images. */
const withLocalization = Manifest.parse({
  ...manifest,
  models: [{
    ...manifest.models[0],
    localization: {
      images: 40, tolerance: 2, objectArea: 0.22, accuracy: 0.9,
      methods: {
        'grad-cam': { pointing: 0.925, energy: 0.61, pointingCorrect: 0.94, energyCorrect: 0.62, images: 40, correct: 36 },
        saliency: { pointing: 0.4, energy: 0.3, pointingCorrect: 0.42, energyCorrect: 0.31, images: 40, correct: 36 },
      },
    },
  }],
});

describe('<MethodExamples> with a localization benchmark', () => {
  it('reports the benchmark over test images, with the even-map baseline, instead of the samples\' hits', async () => {
    const text = (await container.renderToString(MethodExamples, { props: { method: 'grad-cam', manifest: withLocalization } })).replace(/<[^>]+>/g, '').replace(/\s+/g, ' ');
    expect(text).toContain('on 40 test images: pointing game 0.93 (share of maps whose maximum lies on the object, within 2 px; 0.94 on the 36 classified correctly), energy inside the object 0.61 — a map spread evenly would score 0.22 on both.');
    expect(text).not.toContain('pointing game 0.50');
  });
});

describe('<TrustSummary>', () => {
  it('one row per method: deletion AUC with rank, insertion AUC, pointing game, energy, ρ and the verdict', async () => {
    const html = await container.renderToString(TrustSummary, { props: { manifest: withLocalization } });
    const rows = [...html.matchAll(/<tr[^>]*>(.*?)<\/tr>/gs)].map((m) => m[1].replace(/<[^>]+>/g, '|').replace(/\|+/g, '|').replace(/\s+/g, ' '));
    expect(rows[1]).toBe('|Grad-CAM|0.200 (1)|0.700|0.93|0.61|0.05|passes (0 of 1 steps similar)|');
    expect(rows[2]).toBe('|Vanilla saliency|0.400 (2)|0.600|0.40|0.30|0.80|fails (1 of 1 steps similar)|');
    expect(html).toContain('href="/methods/grad-cam/"');
    expect(html).toContain('Tiny &lt;b&gt;model&lt;/b&gt;');
  });
  it('without localization or randomization the columns are left out', async () => {
    const bare = Manifest.parse({ ...manifest, models: [{ ...manifest.models[0], randomization: undefined }] });
    const html = await container.renderToString(TrustSummary, { props: { manifest: bare } });
    expect(html).not.toContain('Pointing game');
    expect(html).not.toContain('Randomization check');
    expect(html).toContain('0.200 (1)');
  });
  it('refuses unknown props', async () => {
    await expect(container.renderToString(TrustSummary, { props: { manifest, extra: 1 } as never })).rejects.toThrow('<TrustSummary>');
  });
});
