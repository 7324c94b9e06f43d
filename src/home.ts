/**
 * convlens's two homes (ARCHITECTURE.md): the package directory holds the code, the Astro site and the authored
 * MDX and is never written to; the working directory — a user's repository, or convlens's own checkout — holds
 * the config, the model files, the photos, `dist/` and everything generated.
 *
 * - In convlens's own checkout (the working directory is the package): generated files stay where the developer
 *   expects them (content/generated/, public/generated/, .cache/).
 * - Anywhere else: everything generated lives in `./.convlens/` (manifest, the site's static files, trained
 *   models and computed reports, Astro's cache), which a CI job can cache as one folder.
 */
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed (or checked-out) convlens package: package.json, src/, content/, public/, astro.config.mjs. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Home {
  /** True when the working directory is convlens's own checkout. */
  own: boolean;
  /** The working directory (config, models, data and output are resolved from here). */
  cwd: string;
  manifest: string;
  /** The site's public folder: the package's static files plus `generated/` images. */
  publicDir: string;
  buildInfo: string;
  modelCache: string;
  reportCache: string;
  /** The Astro site's root: where Astro and Vite write types and caches (the package itself in the checkout). */
  siteRoot: string;
}

function same(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return resolve(a) === resolve(b);
  }
}

/** Where this run reads and writes, for the working directory `cwd`. */
export function homeFor(cwd = process.cwd()): Home {
  const own = same(cwd, PACKAGE_ROOT);
  if (own) {
    return {
      own, cwd,
      manifest: join(cwd, 'content/generated/manifest.json'),
      publicDir: join(cwd, 'public'),
      buildInfo: join(cwd, 'content/generated/build-info.json'),
      modelCache: join(cwd, '.cache/models'),
      reportCache: join(cwd, '.cache/reports'),
      siteRoot: cwd,
    };
  }
  const state = join(cwd, '.convlens');
  return {
    own, cwd,
    manifest: join(state, 'site/manifest.json'),
    publicDir: join(state, 'site/public'),
    buildInfo: join(state, 'site/build-info.json'),
    modelCache: join(state, 'cache/models'),
    reportCache: join(state, 'cache/reports'),
    siteRoot: join(state, 'cache/astro'),
  };
}

const require = createRequire(join(PACKAGE_ROOT, 'package.json'));

/** A dependency's file, resolved from the package (hoisted into the user's node_modules or nested in ours). */
export function dependencyFile(pkg: string, file: string): string {
  const dir = dirname(require.resolve(`${pkg}/package.json`));
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`${pkg}: ${file} not found in ${dir}; reinstall convlens`);
  return path;
}
