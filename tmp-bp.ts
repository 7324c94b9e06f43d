import { selectBackend } from './src/engine/backend.ts';
import { benchPasses } from './scripts/bench-passes.ts';
const e = await selectBackend({});
console.log(e.line);
await benchPasses({ quick: process.argv.includes('--quick') });
