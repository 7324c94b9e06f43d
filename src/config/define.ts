/**
 * `defineConfig` for convlens.config.ts: returns its argument, typed, so an editor completes and checks the keys.
 *
 *   import { defineConfig } from './src/config/define.ts';   // or 'convlens/config' from a project that installs convlens
 *   export default defineConfig({ models: [{ id: 'my-cnn', zoo: 'tiny-vgg', dataset: { kind: 'shapes' }, training: { epochs: 8 } }] });
 */
import type { ConfigInput } from './schema.ts';

export type { ConfigInput } from './schema.ts';

export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}
