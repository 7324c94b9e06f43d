import { selectBackend } from '../src/engine/backend.ts';
import { benchPasses } from './bench-passes.ts';
await selectBackend({});
await benchPasses({ quick: true });
