import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/engine/backend.ts';
import { flattenModel } from '../src/models/flatten.ts';
import { teachableMobileNet } from '../test/fixtures/user-models.ts';
import { makePlan } from '../src/pipeline/plan.ts';
import { methodPasses, passSeconds } from '../src/pipeline/work.ts';
import { readFileSync } from 'node:fs';
await selectBackend({ env: 'wasm' });
const model = flattenModel(teachableMobileNet(3));
const data = { name: 'x', shape: [224, 224, 3], images: new Uint8Array(4 * 224 * 224 * 3).map((_, i) => (i * 7) % 251), count: 4, labels: new Int32Array([0, 1, 2, 0]), numClasses: 3, classes: ['a', 'b', 'c'], ids: ['a', 'b', 'c', 'd'], scale: 1 / 127.5, offset: -1, range: [-1, 1] } as never;
const plan = makePlan({ model, data, sampleIndices: [0], slug: 'x', publicDir: '/nonexistent', seed: 1, limits: { forward: 16, gradient: 8 } } as never);
const actual = JSON.parse(readFileSync(process.argv[2], 'utf8')).attributionMilliseconds[process.argv[3]];
const k = plan.costTable.parallel ?? 1;
console.log('rates', plan.rates);
for (const m of plan.methods) {
  const p = methodPasses(m, plan.paramsOf.get(m.id)!, plan.shape, plan.costTable);
  const est = passSeconds(plan.rates, p) * 1000;
  console.log(m.id.padEnd(22), JSON.stringify(p).padEnd(70), 'est', est.toFixed(0).padStart(6), 'actual', String(actual[m.id]).padStart(8));
}
