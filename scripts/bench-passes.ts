/**
 * The passes section of `npm run bench`: milliseconds per image of a forward pass and of an input-gradient pass
 * (∂ logit / ∂ x, what saliency, SmoothGrad, Integrated Gradients, guided backprop, feature visualization and the
 * randomization check run) on user-size models at 224×224, batch 8, as the report runs them (forward passes on
 * ONNX Runtime when onnxruntime-node is installed, gradients on the tfjs engine with batch norm folded) —
 * a Teachable-Machine-style MobileNetV2 α0.35 with TM's head and ResNet-18 — against PyTorch's torchvision builds
 * of the same networks (bench/torch_reference.py --serve, 2 threads), in blocks interleaved with convlens's: the
 * ratio (PyTorch ms / convlens ms, > 1 when convlens is faster) is the median of the pairs'.
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from '../src/engine/folded.ts';
import { flattenModel } from '../src/models/flatten.ts';
import { targetScore } from '../src/viz/target.ts';
import { resnet18, teachableMobileNet } from '../test/fixtures/user-models.ts';
import { TorchServer } from './bench-convnets.ts';

export interface PassResult {
  model: string;
  pass: 'forward' | 'gradient';
  batch: number;
  convlens_ms_per_img: number;
  torch_ms_per_img?: number;
  /** PyTorch's ms / convlens's: ≥ 1 when convlens is at least as fast. */
  speed_vs_torch?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Milliseconds per image of `steps` passes of `kind` at `x`'s batch. */
export function passMsPerImage(model: tf.LayersModel, kind: 'forward' | 'gradient', x: tf.Tensor4D, steps: number): number {
  const n = x.shape[0];
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      if (kind === 'forward') (forward(model, x, { batchSize: n }) as tf.Tensor).dataSync();
      else tf.grad((v: tf.Tensor) => targetScore(model, v, new Array<number>(n).fill(0)))(x).dataSync();
    });
  }
  return (performance.now() - t0) / (steps * n);
}

export async function benchPasses(opts: { quick: boolean }): Promise<PassResult[]> {
  // Forward passes on ONNX Runtime (opt-in in the report: CONVLENS_FORWARD=onnxruntime).
  process.env.CONVLENS_FORWARD ??= 'onnxruntime';
  const server = await TorchServer.start();
  const batch = 8;
  const pairs = opts.quick ? 3 : 7;
  const out: PassResult[] = [];
  for (const [name, build] of [['teachable-224', () => flattenModel(teachableMobileNet(3))], ['resnet18-224', () => resnet18()]] as const) {
    const model = build();
    const x = tf.randomUniform([batch, 224, 224, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    for (const kind of ['forward', 'gradient'] as const) {
      const steps = kind === 'forward' ? 4 : 2;
      passMsPerImage(model, kind, x, 1);
      if (server) await server.ask({ model: name, pass: kind, batch, steps: 1 });
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let p = 0; p < pairs; p++) {
        ours.push(passMsPerImage(model, kind, x, steps));
        if (server) theirs.push((await server.ask<{ ms: number }>({ model: name, pass: kind, batch, steps })).ms);
      }
      const r: PassResult = { model: name, pass: kind, batch, convlens_ms_per_img: Number(median(ours).toFixed(2)) };
      if (server) {
        r.torch_ms_per_img = Number(median(theirs).toFixed(2));
        r.speed_vs_torch = Number(median(theirs.map((t, i) => t / ours[i])).toFixed(2));
      }
      console.log(JSON.stringify(r));
      out.push(r);
    }
    x.dispose();
    model.dispose();
  }
  server?.stop();
  console.log(`\npasses at 224x224, batch ${batch} (ms per image; speed = PyTorch ms / convlens ms${server ? `, PyTorch ${server.version} 2 threads, ${pairs} interleaved pairs` : ', PyTorch not installed'})`);
  console.log('model            pass       convlens   PyTorch   speed');
  for (const r of out) console.log(`${r.model.padEnd(16)} ${r.pass.padEnd(9)} ${r.convlens_ms_per_img.toFixed(1).padStart(9)} ${(r.torch_ms_per_img?.toFixed(1) ?? '—').padStart(9)} ${(r.speed_vs_torch?.toFixed(2) ?? '—').padStart(7)}`);
  return out;
}
