/**
 * The views registry: every view has one id and a scope; the plan's estimate is the sum of the views' costs, so a
 * view that does more work (more samples explained, more layers with activation maximization) costs more; views
 * that cannot run are not enabled (a non-classifier gets no attribution, randomization or class-image view).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generateShapes } from '../../src/data/shapes.ts';
import { randomCnn } from '../../src/models/random-cnn.ts';
import { tinyVgg } from '../../src/models/tiny-vgg.ts';
import { featureMs } from '../../src/pipeline/cost-model.ts';
import { makePlan } from '../../src/pipeline/plan.ts';
import { VIEWS } from '../../src/pipeline/views/registry.ts';
import { useBackend } from '../helpers/backends.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('views', () => {
  const data = generateShapes({ count: 6, seed: 4, size: 24 });
  const base = { slug: 'v', data, sampleIndices: [0, 1, 2], publicDir: '/nonexistent', seed: 1, localizationImages: 3 };

  it('have unique ids and run in the registry order: samples first, then the model-wide views', () => {
    expect(new Set(VIEWS.map((v) => v.id)).size).toBe(VIEWS.length);
    expect(VIEWS.map((v) => v.id)).toEqual(['attributions', 'localization', 'layers', 'dataset-examples', 'randomization', 'class-images']);
    expect(VIEWS[0].scope).toBe('sample');
    expect(VIEWS.every((v) => /^(models|samples|methods)\//.test(v.section))).toBe(true);
    expect(VIEWS.slice(1).every((v) => v.scope === 'model')).toBe(true);
  });

  it('cost more with more work, and only the ones that apply are enabled', () => {
    const model = tinyVgg({ inputShape: [24, 24, 3], numClasses: 5, seed: 1 });
    const plan = makePlan({ ...base, model });
    plan.explained = [0, 1, 2];
    const sizes = { sampleCount: 3, layerCount: model.layers.length };
    const cost = (id: string) => VIEWS.find((v) => v.id === id)!.cost(plan, sizes);
    expect(VIEWS.every((v) => v.enabled(plan))).toBe(true);
    const three = cost('attributions');
    plan.explained = [0];
    expect(cost('attributions').gradient * 3).toBeCloseTo(three.gradient, 9);
    // Activation maximization's milliseconds grow with its steps (the grids' do not).
    const layers = plan.maxLayers;
    plan.maxLayers = new Set();
    const grids = cost('layers').ms!;
    plan.maxLayers = layers;
    const before = cost('layers').ms!;
    expect(before).toBeGreaterThan(grids);
    plan.actmax.steps *= 2;
    expect(cost('layers').ms! - grids).toBeCloseTo(2 * (before - grids), 6);
    // Class images: the 5 classes' feature visualization at the class steps, in one call.
    expect(cost('class-images').ms).toBeCloseTo(featureMs(model, undefined, 5, plan.classSteps(), 5, plan.costTable), 9);
    expect(cost('class-images').ms).toBeGreaterThan(0);
    const random = makePlan({ ...base, model: randomCnn({ inputShape: [24, 24, 3], seed: 1 }), attributions: false });
    random.explained = [0, 1, 2];
    expect(VIEWS.filter((v) => v.enabled(random)).map((v) => v.id)).toEqual(['layers', 'dataset-examples']);
    model.dispose();
  });
});
