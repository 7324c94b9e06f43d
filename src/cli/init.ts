/**
 * `convlens init`: set a repository up for convlens — a commented convlens.config.ts, a GitHub Actions
 * workflow that builds the report on push and publishes it with GitHub Pages, and .gitignore lines for the
 * generated folders. Never overwrites: a file that exists is left as it is and named.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { IMAGE_EXTENSIONS } from '../data/folder.ts';
import { CONFIG_NAMES } from '../config/load.ts';
import { UsageError } from './args.ts';

export interface InitOptions {
  model?: string;
  data?: string;
  classes?: string;
}

const MODEL_FILE = /(^model\.json$|\.(h5|hdf5|keras|onnx)$)/i;
const SKIP = new Set(['node_modules', '.git', '.convlens', 'dist', '.cache']);

/** Files and folders of `root` up to `depth` levels, breadth first, without dependencies and outputs. */
function walk(root: string, depth: number): Array<{ path: string; dir: boolean }> {
  const out: Array<{ path: string; dir: boolean }> = [];
  let level = [root];
  for (let d = 0; d < depth && level.length; d++) {
    const next: string[] = [];
    for (const dir of level) {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
      } catch {
        continue;
      }
      for (const e of entries) {
        if (e.name.startsWith('.') || SKIP.has(e.name)) continue;
        const p = join(dir, e.name);
        out.push({ path: p, dir: e.isDirectory() });
        if (e.isDirectory()) next.push(p);
      }
    }
    level = next;
  }
  return out;
}

const hasImages = (dir: string) => {
  try {
    return readdirSync(dir).some((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()));
  } catch {
    return false;
  }
};

/** A model file and an image folder already in the repository, so the config starts out right. */
export function detect(root: string): { model?: string; data?: string } {
  const entries = walk(root, 3);
  const model = entries.find((e) => !e.dir && MODEL_FILE.test(e.path.split(sep).pop()!))?.path;
  const folders = entries.filter((e) => e.dir).map((e) => e.path);
  // A folder of images, or a folder whose sub-folders hold images (a labeled set).
  const data = folders.find((f) => hasImages(f) || (readdirSync(f, { withFileTypes: true }).some((s) => s.isDirectory() && hasImages(join(f, s.name)))));
  const rel = (p?: string) => p && relative(root, p).split(sep).join('/');
  return { model: rel(model), data: rel(data) };
}

const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function configText(o: { model: string; data: string; classes?: string; found: boolean }): string {
  const classes = o.classes
    ? `      classes: ${o.classes.includes(',') ? `[${o.classes.split(',').map((c) => q(c.trim())).join(', ')}]` : q(o.classes)},\n`
    : "      // classes: ['cat', 'dog'],            // or 'labels.txt' (one name per line)\n";
  return `// convlens.config.ts: what \`npx convlens report\` explains. Paths are relative to this file.
// \`npx convlens report --help\` lists the command-line options; the README lists every key.
import { defineConfig } from 'convlens/config';

export default defineConfig({
  models: [
    {
      // Your trained model: model.json (TensorFlow.js, Teachable Machine), .h5 (Keras 2), .keras (Keras 3) or
      // .onnx (PyTorch: torch.onnx.export).${o.found ? '' : '\n      // (No model file was found here: put yours in place and change this path.)'}
      load: ${q(o.model)},
      // The images to explain: one sub-folder per class (a labeled test set: accuracy, confusion matrix,
      // mistakes), or a flat folder of photos (unlabeled: each photo's top 5 and every explanation).
      data: ${q(o.data)},
      // Class names in the model's output order. Default: the sub-folder names, or what Teachable Machine
      // exports beside the model (metadata.json beside model.json, labels.txt beside keras_model.h5).
${classes}      // How pixel values become inputs: '/255' → [0, 1] (default), '[-1,1]' or 'tf' (MobileNet; Teachable
      // Machine's metadata.json or labels.txt sets it), 'caffe' (VGG16/19, ResNet50: BGR minus ImageNet means), 'torch',
      // or PyTorch's Normalize arguments: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }.
      // scale: '/255',
      // The layer for Grad-CAM and its relatives (default: the last convolutional layer's output).
      // camLayer: 'conv_pw_13_relu',
      // title: 'My classifier',
    },
  ],
  samples: {
    // Unlabeled photos explained, at most, in file-name order (the report says when some were left out).
    max: 32,
    // Labeled folders: the first test images of each class, and the most confident mistakes.
    perClass: 1,
    mistakes: 2,
  },
  // Attribution methods: their parameters, or false to skip one. Unlisted methods run with their defaults.
  methods: {
    // 'integrated-gradients': { steps: 64 },
    // occlusion: { patch: 16, stride: 8 },
    // 'score-cam': false,
    // rise: { masks: 2000 },
  },
  // Deletion/insertion curves: deleted pixels take a blurred copy of the image ('blur') or black ('black');
  // ROAD's imputed-removal curves are on for small models (road: true / false to choose).
  // faithfulness: { baseline: 'blur', road: true },
  // Dataset examples per conv-layer channel: test images scanned, images shown per list.
  // datasetExamples: { images: 1000, k: 5 },
  // Seconds each model's explanations should take on a 2-core machine (default 150, estimated from the model's
  // architecture): optional work is trimmed to fit and the model page lists each cut; false keeps everything.
  // budget: 150,
  // Where the site goes.
  out: 'dist',
});
`;
}

export function workflowText(opts: { lockfile: boolean }): string {
  return `# Builds the convlens report on every push to main and publishes it with GitHub Pages; on a pull request it
# builds the report without publishing it. Each run compares its report with the published one and writes what
# changed (flipped predictions first) to the run's summary page.
# Once: Settings → Pages → Source: GitHub Actions. The report is then at https://<user>.github.io/<repo>/.
name: convlens report

on:
  push:
    branches: [main]
  pull_request:
  workflow_dispatch:

permissions:
  contents: read
  pages: write
  id-token: write

concurrency:
  group: convlens-\${{ github.event_name == 'pull_request' && github.ref || 'pages' }}
  cancel-in-progress: true

jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      - run: ${opts.lockfile ? 'npm ci' : 'npm install'}
      # Trained models and computed reports, keyed inside by the files' contents: an unchanged model and
      # data set are not recomputed.
      - uses: actions/cache@v4
        with:
          path: .convlens
          key: convlens-\${{ github.sha }}
          restore-keys: convlens-
      - id: pages
        uses: actions/configure-pages@v5
      # CONVLENS_SITE_URL gives the site its address and sub-path (/<repo>/ on a project site). --compare reads the
      # published report (its report.json files and maps, nothing else); on the first run there is none, which the
      # summary says, and the report builds all the same.
      - run: npx convlens report --compare "\${{ steps.pages.outputs.base_url }}"
        env:
          CONVLENS_SITE_URL: \${{ steps.pages.outputs.base_url }}
      - name: What changed
        if: always()
        run: |
          cat dist/changes.md >> "$GITHUB_STEP_SUMMARY" || echo "No report was built; see the report step." >> "$GITHUB_STEP_SUMMARY"
      - if: github.event_name != 'pull_request'
        uses: actions/upload-pages-artifact@v3
        with:
          path: dist

  deploy:
    if: github.event_name != 'pull_request'
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: \${{ steps.deployment.outputs.page_url }}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
`;
}

/** The .npmrc line that keeps onnxruntime-node's install from downloading its CUDA libraries. */
export const NPMRC_LINE = 'onnxruntime-node-install=skip';

/** Write the config, the workflow, the .gitignore and .npmrc lines into `root`; refuses to overwrite. */
export function initProject(root: string, o: InitOptions, log: (line: string) => void): void {
  const existing = CONFIG_NAMES.map((n) => join(root, n)).filter((p) => existsSync(p));
  const workflow = join(root, '.github/workflows/convlens.yml');
  const clashes = [...existing, ...(existsSync(workflow) ? [workflow] : [])].map((p) => relative(root, p));
  if (clashes.length) {
    throw new UsageError(`init: ${clashes.join(' and ')} already exist${clashes.length === 1 ? 's' : ''}; convlens init never overwrites — edit ${clashes.length === 1 ? 'it' : 'them'}, or move ${clashes.length === 1 ? 'it' : 'them'} away and run init again`);
  }
  const found = detect(root);
  const model = o.model ?? found.model;
  const data = o.data ?? found.data;
  writeFileSync(join(root, 'convlens.config.ts'), configText({ model: model ?? 'model/model.json', data: data ?? 'photos', classes: o.classes, found: model != null }));
  log(`wrote convlens.config.ts (model: ${model ?? 'model/model.json — change it'}, data: ${data ?? 'photos — change it'})`);
  mkdirSync(dirname(workflow), { recursive: true });
  writeFileSync(workflow, workflowText({ lockfile: existsSync(join(root, 'package-lock.json')) }));
  log('wrote .github/workflows/convlens.yml (build on push, publish with GitHub Pages)');
  const gitignore = join(root, '.gitignore');
  const have = existsSync(gitignore) ? readFileSync(gitignore, 'utf8').split(/\r?\n/).map((l) => l.trim()) : [];
  const add = ['.convlens/', 'dist/'].filter((l) => !have.includes(l) && !have.includes(l.replace(/\/$/, '')));
  if (add.length) {
    const text = readFileSafe(gitignore);
    appendFileSync(gitignore, `${text && !text.endsWith('\n') ? '\n' : ''}${add.join('\n')}\n`);
    log(`added ${add.join(' and ')} to .gitignore`);
  }
  // onnxruntime-node (convlens's forward passes) ships its CPU build in the npm package; its install script would
  // download CUDA libraries on Linux x64 (hundreds of MB, no use without a GPU, a failed install offline).
  const npmrc = join(root, '.npmrc');
  if (!/^\s*onnxruntime-node-install\s*=/m.test(readFileSafe(npmrc))) {
    const text = readFileSafe(npmrc);
    appendFileSync(npmrc, `${text && !text.endsWith('\n') ? '\n' : ''}${NPMRC_LINE}\n`);
    log(`added ${NPMRC_LINE} to .npmrc (ONNX Runtime's CPU build is in its npm package; its install would download CUDA libraries)`);
  }
  log('next: npx convlens report   (the site goes to dist/; serve that folder with any static web server)');
}

function readFileSafe(p: string): string {
  try {
    return statSync(p).isFile() ? readFileSync(p, 'utf8') : '';
  } catch {
    return '';
  }
}
