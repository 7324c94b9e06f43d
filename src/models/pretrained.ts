/**
 * ImageNet weights for the zoo's VGG16, VGG19 and MobileNetV2, from the URLs Keras's applications code downloads
 * them from (keras/src/applications/vgg16.py, vgg19.py, mobilenet_v2.py, imagenet_utils.py), verified and cached:
 * - VGG16/VGG19 and the class index carry the MD5 hashes Keras publishes; a file whose hash differs is refused.
 * - Keras publishes no hash for MobileNetV2's files: the first download is checked by loading it (every layer
 *   present with its shape) and its SHA-256 is recorded beside it; later runs verify the cached file against it.
 * Files go to CONVLENS_CACHE, else ~/.cache/convlens (XDG_CACHE_HOME respected). CONVLENS_WEIGHTS_URL replaces
 * Keras's host (https://storage.googleapis.com/) — a mirror, or the local server of the tests. Without network the
 * error names the URL to download and the path to put the file at.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const KERAS_HOST = 'https://storage.googleapis.com/';

export interface RemoteFile {
  /** File name in the cache (Keras's own). */
  name: string;
  /** URL path after the host. */
  path: string;
  /** MD5 Keras publishes, when it does. */
  md5?: string;
}

const APPS = 'tensorflow/keras-applications';

/** Keras's MobileNetV2 files exist for these widths and input sizes. */
export const MOBILENET_V2_ALPHAS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4];
export const MOBILENET_V2_SIZES = [96, 128, 160, 192, 224];

/** Python's str(float(alpha)): 0.5 → '0.5', 1 → '1.0'. */
function pyFloat(x: number): string {
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/** The ImageNet weight file Keras downloads for a zoo architecture. */
export function imagenetWeightsFile(zoo: string, opts: { includeTop: boolean; alpha?: number; size?: number }): RemoteFile {
  if (zoo === 'vgg16' || zoo === 'vgg19') {
    const md5 = zoo === 'vgg16'
      ? (opts.includeTop ? '64373286793e3c8b2b4e3219cbf3544b' : '6d6bbae143d832006294945121d1f1fc')
      : (opts.includeTop ? 'cbe5617147190e668d6c5d5026f83318' : '253f8cb515780f3b799900260a226db6');
    const name = `${zoo}_weights_tf_dim_ordering_tf_kernels${opts.includeTop ? '' : '_notop'}.h5`;
    return { name, path: `${APPS}/${zoo}/${name}`, md5 };
  }
  if (zoo === 'mobilenetv2') {
    const alpha = opts.alpha ?? 1.0;
    if (!MOBILENET_V2_ALPHAS.includes(alpha)) throw new Error(`weights 'imagenet': Keras publishes MobileNetV2 for alpha ${MOBILENET_V2_ALPHAS.join(', ')}, not ${alpha}`);
    // Keras picks the file by the input size when it is one of its own, else the 224 one (with a warning).
    const size = opts.size != null && MOBILENET_V2_SIZES.includes(opts.size) ? opts.size : 224;
    const name = `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${pyFloat(alpha)}_${size}${opts.includeTop ? '' : '_no_top'}.h5`;
    return { name, path: `${APPS}/mobilenet_v2/${name}` };
  }
  throw new Error(`weights 'imagenet': Keras publishes ImageNet weights for vgg16, vgg19 and mobilenetv2, not '${zoo}'`);
}

/** Keras's ImageNet class index: {"0": ["n01440764", "tench"], …}. */
export const IMAGENET_CLASS_INDEX: RemoteFile = {
  name: 'imagenet_class_index.json',
  path: 'download.tensorflow.org/data/imagenet_class_index.json',
  md5: 'c2c37ea517e94d9795004a39431a14cb',
};

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CONVLENS_CACHE) return env.CONVLENS_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'convlens');
}

export function remoteUrl(f: RemoteFile, env: NodeJS.ProcessEnv = process.env): string {
  const host = env.CONVLENS_WEIGHTS_URL || KERAS_HOST;
  return `${host.endsWith('/') ? host : `${host}/`}${f.path}`;
}

export class DownloadError extends Error {}

async function digest(path: string, algorithm: 'md5' | 'sha256'): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/**
 * The cached file's path, downloading it first when it is missing. `check` (optional) validates a file with no
 * published hash before it is kept (it throws to refuse it).
 */
export async function fetchVerified(f: RemoteFile, opts: { env?: NodeJS.ProcessEnv; check?: (path: string) => Promise<void>; log?: (line: string) => void } = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const path = join(cacheDir(env), 'keras', f.name);
  const url = remoteUrl(f, env);
  const sidecar = `${path}.sha256`;
  if (existsSync(path)) {
    if (f.md5) {
      const md5 = await digest(path, 'md5');
      if (md5 === f.md5) return path;
      throw new DownloadError(`${path}: cached file has MD5 ${md5}, Keras publishes ${f.md5}: it is corrupt or not Keras's file; delete it to download it again from ${url}`);
    }
    if (existsSync(sidecar)) {
      const sha = await digest(path, 'sha256');
      const want = readFileSync(sidecar, 'utf8').trim();
      if (sha === want) return path;
      throw new DownloadError(`${path}: cached file changed since it was downloaded (SHA-256 ${sha}, recorded ${want}); delete it to download it again from ${url}`);
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  const part = `${path}.part-${process.pid}`;
  const where = `download it from ${url} on a machine with network access and put it at ${path} (or set CONVLENS_CACHE to a folder holding keras/${f.name})`;
  let response: Response;
  opts.log?.(`downloading ${url}`);
  try {
    response = await fetch(url);
  } catch (err) {
    throw new DownloadError(`cannot download ${f.name} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}): ${where}`);
  }
  if (!response.ok || !response.body) throw new DownloadError(`cannot download ${f.name}: HTTP ${response.status} from ${url}; ${where}`);
  try {
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(part));
  } catch (err) {
    rmSync(part, { force: true });
    throw new DownloadError(`download of ${url} broke off (${(err as Error).message}); run again, or ${where}`);
  }
  try {
    const length = Number(response.headers.get('content-length'));
    const got = readFileSync(part).length;
    if (length > 0 && got !== length) throw new DownloadError(`download of ${url} is truncated: ${got} of ${length} bytes; run again, or ${where}`);
    if (f.md5) {
      const md5 = await digest(part, 'md5');
      if (md5 !== f.md5) throw new DownloadError(`${url}: the downloaded file has MD5 ${md5}, Keras publishes ${f.md5}; refusing it (a proxy or mirror served another file). ${where[0].toUpperCase()}${where.slice(1)}`);
    } else {
      await opts.check?.(part);
      writeFileSync(sidecar, `${await digest(part, 'sha256')}\n`);
    }
    renameSync(part, path);
  } finally {
    rmSync(part, { force: true });
  }
  return path;
}

/** The 1000 ImageNet class names in output order ("tench", "goldfish", …), from Keras's class index. */
export async function imagenetClassNames(opts: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {}): Promise<string[]> {
  const path = await fetchVerified(IMAGENET_CLASS_INDEX, opts);
  const index = JSON.parse(readFileSync(path, 'utf8')) as Record<string, [string, string]>;
  return Array.from({ length: Object.keys(index).length }, (_, i) => index[String(i)][1]);
}

/** Keras's preprocess_input mode of each architecture's ImageNet weights. */
export function kerasPreprocessing(zoo: string): 'caffe' | 'tf' {
  return zoo === 'mobilenetv2' ? 'tf' : 'caffe';
}

/** Whether a zoo model keeps the ImageNet classifier (so its classes are ImageNet's 1000). */
export function hasImagenetTop(zoo: string, options: Record<string, unknown>): boolean {
  if (zoo === 'mobilenetv2') return (options.head ?? 'imagenet') === 'imagenet';
  return options.head !== 'transfer' && options.includeTop !== false;
}

/** The last layer of the pretrained base (the part the no-top weight file holds). */
export function baseEnd(zoo: string): string {
  return zoo === 'mobilenetv2' ? 'out_relu' : 'block5_pool';
}

/**
 * Fill `model` (a zoo vgg16/vgg19/mobilenetv2) with Keras's ImageNet weights: the whole model when it has the
 * ImageNet top, else its base — which is then frozen, the new head left to train.
 */
export async function loadImagenetWeights(
  model: import('@tensorflow/tfjs').LayersModel,
  zoo: string,
  options: Record<string, unknown>,
  opts: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<string> {
  const { loadKerasWeights } = await import('./keras.ts');
  const top = hasImagenetTop(zoo, options);
  const end = model.layers.findIndex((l) => l.name === baseEnd(zoo));
  const inBase = (name: string) => top || model.layers.findIndex((l) => l.name === name) <= end;
  const size = (model.inputs[0].shape as number[])[1];
  const file = imagenetWeightsFile(zoo, { includeTop: top, alpha: options.alpha as number | undefined, size });
  let loaded = false;
  const path = await fetchVerified(file, {
    ...opts,
    // No published hash (MobileNetV2): the file must load, every layer with its shape, before it is kept.
    check: async (p) => {
      await loadKerasWeights(model, p, { only: inBase });
      loaded = true;
    },
  });
  if (!loaded) await loadKerasWeights(model, path, { only: inBase });
  if (!top) model.layers.forEach((layer, i) => { if (i <= end) layer.trainable = false; });
  return path;
}
