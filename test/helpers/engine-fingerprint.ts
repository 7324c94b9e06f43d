/**
 * Child process for the threads test: select the engine (CONVLENS_THREADS decides the binary), then print the engine
 * line and a SHA-256 of MobileNetV2 α0.35's and the GAP CNN's predictions, input gradients in training mode and
 * weights after three training steps (fused batch norm, ReLU6 and Adam included).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/backend.ts';
import { gapCnn } from '../../src/models/gap-cnn.ts';
import { mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { fit } from '../../src/train/fit.ts';

const engine = await selectBackend({});
const hash = createHash('sha256');
const feed = (t: tf.Tensor) => hash.update(Buffer.from((t.dataSync() as Float32Array).buffer));
for (const model of [mobileNetV2({ alpha: 0.35, inputShape: [64, 64, 3], head: 'transfer', numClasses: 5, seed: 1 }), gapCnn({ seed: 1 })]) {
  const x = tf.randomUniform([8, 64, 64, 3], -1, 1, 'float32', 3);
  tf.tidy(() => {
    feed(model.predict(x) as tf.Tensor);
    feed(tf.grad((xx: tf.Tensor) => tf.sum(model.apply(xx, { training: true }) as tf.Tensor))(x));
  });
  const images = new Uint8Array(96 * 64 * 64 * 3).map((_, i) => (i * 2654435761) >>> 24);
  fit(model, { images, labels: Int32Array.from({ length: 96 }, (_, i) => i % 5), count: 96, shape: [64, 64, 3], numClasses: 5 }, { epochs: 1, batchSize: 32, seed: 1 });
  for (const w of model.getWeights()) feed(w);
  x.dispose();
  model.dispose();
}
console.log(JSON.stringify({ line: engine.line, threads: engine.threads, hash: hash.digest('hex') }));
