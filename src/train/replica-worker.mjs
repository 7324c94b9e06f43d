// Entry of a data-parallel training replica (src/train/parallel.ts): a worker thread starts without the main
// thread's loader hooks, so it registers tsx's itself (convlens runs its TypeScript without a build step).
import { register } from 'tsx/esm/api';

register();
await import('./replica.ts');
