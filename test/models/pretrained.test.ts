/**
 * ImageNet weights fetched and verified, against a local HTTP server on 127.0.0.1 serving files the test writes:
 * the right hash, a wrong hash, 404, a truncated body, no server at all; then Keras's MobileNetV2 path (no published
 * hash: checked by loading) end to end — a weights-only .h5 written by h5py the way Keras writes it, loaded by
 * layer name into the zoo's base, frozen, a new head trained with augmentation and early stopping, then fine-tuned.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Config } from '../../src/config/schema.ts';
import { configEntries } from '../../src/config/specs.ts';
import { mobileNetV2 } from '../../src/models/mobilenet-v2.ts';
import { cacheDir, DownloadError, fetchVerified, imagenetClassNames, imagenetWeightsFile, type RemoteFile } from '../../src/models/pretrained.ts';
import { modelReport } from '../../src/pipeline/model-report.ts';
import { useBackend } from '../helpers/backends.ts';
import { H5PY_PYTHON, writeKeras2H5Py } from '../helpers/keras2-h5.ts';
import { seedWeights, writePhotos } from '../helpers/teachable.ts';
import { ATTRIBUTION_METHODS } from '../../src/viz/registry.ts';

const root = mkdtempSync(join(tmpdir(), 'convlens-pretrained-'));
const served = join(root, 'served');
let server: Server;
let base = '';
const hits: string[] = [];

beforeAll(async () => {
  await useBackend('wasm');
  mkdirSync(served, { recursive: true });
  server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '/');
    hits.push(path);
    if (path.startsWith('/truncated/')) {
      // Announces 1000 bytes, sends 10 and hangs up.
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10));
      res.socket?.destroy();
      return;
    }
    const file = join(served, path);
    if (!existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}/`;
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function serve(path: string, body: Buffer): void {
  mkdirSync(join(served, path, '..'), { recursive: true });
  writeFileSync(join(served, path), body);
}

describe('fetchVerified against a local server', () => {
  it('downloads a file with the right hash once, then serves it from the cache', async () => {
    const body = Buffer.from('weights '.repeat(1000));
    serve('tensorflow/keras-applications/t/right.h5', body);
    const f: RemoteFile = { name: 'right.h5', path: 'tensorflow/keras-applications/t/right.h5', md5: md5(body) };
    const env = { CONVLENS_CACHE: join(root, 'cache-right'), CONVLENS_WEIGHTS_URL: base };
    const path = await fetchVerified(f, { env });
    expect(path).toBe(join(root, 'cache-right', 'keras', 'right.h5'));
    expect(readFileSync(path).equals(body)).toBe(true);
    const before = hits.length;
    expect(await fetchVerified(f, { env })).toBe(path);
    expect(hits.length).toBe(before);
    // A cached file that changed afterwards is refused, not used.
    writeFileSync(path, 'tampered');
    await expect(fetchVerified(f, { env })).rejects.toThrow(/cached file has MD5 .*, Keras publishes .*delete it to download it again/);
  });

  it('refuses a wrong hash, a 404, a truncated body and an unreachable host, keeping nothing', async () => {
    const cache = join(root, 'cache-bad');
    const env = { CONVLENS_CACHE: cache, CONVLENS_WEIGHTS_URL: base };
    serve('x/wrong.h5', Buffer.from('not the published file'));
    await expect(fetchVerified({ name: 'wrong.h5', path: 'x/wrong.h5', md5: '64373286793e3c8b2b4e3219cbf3544b' }, { env }))
      .rejects.toThrow(/has MD5 [0-9a-f]{32}, Keras publishes 64373286793e3c8b2b4e3219cbf3544b; refusing it/);
    await expect(fetchVerified({ name: 'missing.h5', path: 'x/missing.h5', md5: 'a'.repeat(32) }, { env }))
      .rejects.toThrow(new RegExp(`HTTP 404 from ${base}x/missing.h5; download it from .* and put it at ${join(cache, 'keras', 'missing.h5')}`));
    await expect(fetchVerified({ name: 'cut.h5', path: 'truncated/cut.h5', md5: 'a'.repeat(32) }, { env })).rejects.toThrow(DownloadError);
    await expect(fetchVerified({ name: 'off.h5', path: 'x/off.h5' }, { env: { CONVLENS_CACHE: cache, CONVLENS_WEIGHTS_URL: 'http://127.0.0.1:9/' } }))
      .rejects.toThrow(/cannot download off\.h5 \(.*\): download it from http:\/\/127\.0\.0\.1:9\/x\/off\.h5 on a machine with network access and put it at/);
    const left = existsSync(join(cache, 'keras')) ? readdirSync(join(cache, 'keras')) : [];
    expect(left).toEqual([]);
  });

  it("names Keras's files and URLs, and refuses a class index that is not Keras's", async () => {
    expect(imagenetWeightsFile('vgg16', { includeTop: true })).toEqual({
      name: 'vgg16_weights_tf_dim_ordering_tf_kernels.h5',
      path: 'tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5',
      md5: '64373286793e3c8b2b4e3219cbf3544b',
    });
    expect(imagenetWeightsFile('mobilenetv2', { includeTop: false, alpha: 0.5, size: 160 }).name).toBe('mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_160_no_top.h5');
    expect(imagenetWeightsFile('mobilenetv2', { includeTop: true, alpha: 1, size: 200 }).name).toBe('mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5');
    expect(() => imagenetWeightsFile('mobilenetv2', { includeTop: true, alpha: 0.6 })).toThrow(/alpha 0.35, 0.5, 0.75, 1, 1.3, 1.4, not 0.6/);
    expect(cacheDir({ HOME: '/home/u' } as NodeJS.ProcessEnv)).toMatch(/\.cache\/convlens$/);
    serve('download.tensorflow.org/data/imagenet_class_index.json', Buffer.from(JSON.stringify({ 0: ['n0', 'fake'] })));
    await expect(imagenetClassNames({ env: { CONVLENS_CACHE: join(root, 'cache-index'), CONVLENS_WEIGHTS_URL: base } })).rejects.toThrow(/Keras publishes c2c37ea517e94d9795004a39431a14cb/);
  });
});

describe.runIf(H5PY_PYTHON)('transfer learning on a pretrained base', () => {
  it('loads the base from a Keras weights file, trains a new head on the frozen base, then fine-tunes', async () => {
    // "ImageNet" weights for MobileNetV2 α0.35 at 96x96, no top: seeded, written by h5py as Keras writes them.
    const source = mobileNetV2({ alpha: 0.35, inputShape: [96, 96, 3], head: 'none', seed: 9 });
    seedWeights(source, 11);
    const file = imagenetWeightsFile('mobilenetv2', { includeTop: false, alpha: 0.35, size: 96 });
    mkdirSync(join(served, file.path, '..'), { recursive: true });
    writeKeras2H5Py(source, join(served, file.path), { weightsOnly: true });
    const conv1 = source.getLayer('Conv1').getWeights()[0].dataSync().slice();
    source.dispose();
    // Two classes of photos, train and test folders.
    const data = join(root, 'photos');
    for (const split of ['train', 'test']) {
      for (const cls of ['a', 'b']) await writePhotos(join(data, split, cls), split === 'train' ? 8 : 2);
    }
    process.env.CONVLENS_CACHE = join(root, 'cache-transfer');
    process.env.CONVLENS_WEIGHTS_URL = base;
    try {
      const config = Config.parse({
        models: [{
          id: 'transfer', zoo: 'mobilenetv2', weights: 'imagenet', options: { alpha: 0.35, head: 'transfer', bnMomentum: 0.9 },
          dataset: { kind: 'folder', train: join(data, 'train'), test: join(data, 'test'), size: [96, 96], validation: 4 },
          training: { epochs: 2, batchSize: 4, learningRate: 0.01, augment: { flip: true, zoom: 0.1 }, patience: 2 },
          fineTune: { from: 'block_16_expand', epochs: 1, learningRate: 1e-4 },
          actmax: { maxChannels: 1, steps: 2, maxLayers: 1 },
        }],
        methods: { 'integrated-gradients': { steps: 4 }, 'smoothgrad-saliency': { samples: 2 }, occlusion: false, 'score-cam': { maxChannels: 4 } },
      });
      const [entry] = configEntries(config, {}, root);
      const spec = await entry.make();
      expect(spec.test.scale).toBeCloseTo(1 / 127.5);
      let trained: tf.LayersModel | undefined;
      const build = spec.build;
      spec.build = async () => {
        trained = await build();
        // The base holds the file's weights and is frozen; the new head is trainable.
        expect(Array.from(trained.getLayer('Conv1').getWeights()[0].dataSync())).toEqual(Array.from(conv1));
        expect(trained.getLayer('Conv1').trainable).toBe(false);
        expect(trained.getLayer('out_relu').trainable).toBe(false);
        expect(trained.getLayer('head_dense').trainable).toBe(true);
        return trained;
      };
      const publicDir = join(root, 'public');
      const before = tf.memory().numTensors;
      const report = await modelReport(spec, { backend: 'wasm', publicDir, cacheDir: join(root, 'models'), reportCacheDir: join(root, 'reports'), noCache: true });
      expect(tf.memory().numTensors).toBe(before);
      // The file had no published hash: its SHA-256 was recorded beside it once it loaded.
      const cached = join(root, 'cache-transfer', 'keras', file.name);
      expect(readFileSync(`${cached}.sha256`, 'utf8').trim()).toBe(createHash('sha256').update(readFileSync(cached)).digest('hex'));
      const history = report.training!.history;
      expect(history.filter((h) => h.phase === 'fine-tune')).toHaveLength(1);
      expect(history.length).toBeGreaterThanOrEqual(2);
      expect(report.description).toMatch(/ImageNet weights in its frozen base, a new head trained for 2 epochs and fine-tuned from block_16_expand/);
      expect(report.samples.length).toBeGreaterThan(0);
      expect(report.samples[0].attributions.length).toBe(ATTRIBUTION_METHODS.length - 1); // occlusion off
      expect(report.work?.batch.gradient).toBeGreaterThan(0);
    } finally {
      delete process.env.CONVLENS_CACHE;
      delete process.env.CONVLENS_WEIGHTS_URL;
    }
  }, 600_000);

  it("weights: 'imagenet' without network says what to download and where to put it", async () => {
    process.env.CONVLENS_CACHE = join(root, 'cache-offline');
    process.env.CONVLENS_WEIGHTS_URL = 'http://127.0.0.1:9/';
    try {
      const photos = join(root, 'offline-photos');
      for (const cls of ['a', 'b']) await writePhotos(join(photos, cls), 1);
      const config = Config.parse({ models: [{ id: 'v', zoo: 'vgg16', weights: 'imagenet', options: { head: 'transfer' }, dataset: { kind: 'folder', test: photos, size: [32, 32] } }] });
      const spec = await configEntries(config, {}, root)[0].make();
      await expect(Promise.resolve().then(() => spec.build())).rejects.toThrow(
        new RegExp(`cannot download vgg16_weights_tf_dim_ordering_tf_kernels_notop\\.h5 .*download it from http://127\\.0\\.0\\.1:9/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop\\.h5 .* put it at ${join(root, 'cache-offline', 'keras')}`),
      );
    } finally {
      delete process.env.CONVLENS_CACHE;
      delete process.env.CONVLENS_WEIGHTS_URL;
    }
  });
});
