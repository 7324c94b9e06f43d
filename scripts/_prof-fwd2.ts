import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/engine/backend.ts';
import { forward } from '../src/engine/folded.ts';
import { flattenModel } from '../src/models/flatten.ts';
import { resnet18, teachableMobileNet } from '../test/fixtures/user-models.ts';
const which = process.argv[2] ?? 'tm';
await selectBackend({ cli: 'wasm' });
const model = which === 'tm' ? flattenModel(teachableMobileNet(3)) : resnet18();
const B = 8;
const x = tf.randomUniform([B, 224, 224, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
for (let i = 0; i < 3; i++) tf.tidy(() => (forward(model, x, { batchSize: B }) as tf.Tensor).dataSync());
const res: number[] = [];
for (let r = 0; r < 7; r++) {
  const t0 = performance.now();
  for (let i = 0; i < 4; i++) tf.tidy(() => (forward(model, x, { batchSize: B }) as tf.Tensor).dataSync());
  res.push((performance.now() - t0) / 4 / B);
}
res.sort((a, b) => a - b);
console.log(`${which} ${process.env.CACHE ? 'cached' : 'fresh'} ms/img median ${res[3].toFixed(2)} min ${res[0].toFixed(2)}`);
