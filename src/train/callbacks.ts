/**
 * Training callbacks as small objects : early stopping on a monitored metric, keeping the best
 * weights by validation accuracy, learning-rate schedules, and progress output.
 */
import * as tf from '@tensorflow/tfjs';
import type { Callback, EpochLogs, TrainContext } from './fit.ts';

export type Monitor = 'loss' | 'acc' | 'val_loss' | 'val_acc';

/** Higher is better for accuracies, lower for losses. */
function better(monitor: Monitor, value: number, best: number, minDelta: number): boolean {
  return monitor.endsWith('acc') ? value > best + minDelta : value < best - minDelta;
}

function read(logs: EpochLogs, monitor: Monitor): number {
  const v = logs[monitor];
  if (v == null) throw new Error(`callback monitors '${monitor}', which this run does not compute (no validation data?)`);
  return v;
}

/** Stop when `monitor` has not improved by more than `minDelta` for `patience` epochs (Keras EarlyStopping). */
export function earlyStopping({ monitor = 'val_loss', patience = 3, minDelta = 0 }: { monitor?: Monitor; patience?: number; minDelta?: number } = {}): Callback & { stoppedEpoch?: number } {
  let best = monitor.endsWith('acc') ? -Infinity : Infinity;
  let wait = 0;
  const cb: Callback & { stoppedEpoch?: number } = {
    onEpochEnd(epoch, logs, ctx) {
      const v = read(logs, monitor);
      if (better(monitor, v, best, minDelta)) {
        best = v;
        wait = 0;
      } else if (++wait >= patience) {
        ctx.stop = true;
        cb.stoppedEpoch = epoch;
      }
    },
  };
  return cb;
}

/**
 * Keep a copy of the weights of the best epoch by `monitor` and restore them when training ends
 * (Keras ModelCheckpoint(save_best_only=True) followed by loading the checkpoint).
 */
export function bestCheckpoint({ monitor = 'val_acc' }: { monitor?: Monitor } = {}): Callback & { bestEpoch?: number; bestValue?: number } {
  let saved: tf.Tensor[] | undefined;
  const cb: Callback & { bestEpoch?: number; bestValue?: number } = {
    onEpochEnd(epoch, logs, ctx) {
      const v = read(logs, monitor);
      if (cb.bestValue == null || better(monitor, v, cb.bestValue, 0)) {
        cb.bestValue = v;
        cb.bestEpoch = epoch;
        tf.dispose(saved ?? []);
        saved = ctx.model.getWeights().map((w) => tf.clone(w));
      }
    },
    onTrainEnd(ctx: TrainContext) {
      if (saved) {
        ctx.model.setWeights(saved);
        tf.dispose(saved);
        saved = undefined;
      }
    },
  };
  return cb;
}

/** Set the learning rate per epoch from `schedule(epoch, initial)`. */
export function learningRateSchedule(schedule: (epoch: number, initial: number) => number): Callback {
  let initial = 0;
  return {
    onTrainBegin(ctx) {
      initial = ctx.learningRate;
    },
    onEpochBegin(epoch, ctx) {
      ctx.learningRate = schedule(epoch, initial);
    },
  };
}

/** Step decay: multiply by `factor` every `every` epochs. */
export const stepDecay = (factor: number, every: number) => (epoch: number, initial: number) =>
  initial * factor ** Math.floor(epoch / every);

/** Cosine decay from the initial rate to `floor` × initial over `epochs`. */
export const cosineDecay = (epochs: number, floor = 0) => (epoch: number, initial: number) =>
  initial * (floor + (1 - floor) * 0.5 * (1 + Math.cos((Math.PI * epoch) / Math.max(1, epochs))));

/**
 * Progress: a bar redrawn in place on a TTY, one plain line per epoch otherwise (CI logs).
 * `stepsPerEpoch` sizes the bar.
 */
export function progress({ label, stepsPerEpoch, stream = process.stderr }: { label: string; stepsPerEpoch: number; stream?: NodeJS.WriteStream }): Callback {
  const tty = Boolean(stream.isTTY);
  let epochStart = 0;
  let stepInEpoch = 0;
  let epochIndex = 0;
  return {
    onEpochBegin(epoch) {
      epochIndex = epoch;
      stepInEpoch = 0;
      epochStart = performance.now();
    },
    onBatchEnd(_, ctx) {
      if (!tty) return;
      stepInEpoch++;
      const frac = Math.min(1, stepInEpoch / stepsPerEpoch);
      const width = 24;
      const done = Math.round(frac * width);
      const elapsed = (performance.now() - epochStart) / 1000;
      const eta = frac > 0 ? elapsed / frac - elapsed : 0;
      stream.write(
        `\r${label} epoch ${epochIndex + 1}/${ctx.epochs} [${'#'.repeat(done)}${'.'.repeat(width - done)}] ` +
          `${stepInEpoch}/${stepsPerEpoch} eta ${eta.toFixed(0)}s `,
      );
    },
    onEpochEnd(epoch, logs, ctx) {
      const val = logs.val_acc != null ? ` val_loss ${logs.val_loss!.toFixed(4)} val_acc ${logs.val_acc.toFixed(4)}` : '';
      stream.write(
        `${tty ? '\r' : ''}${label} epoch ${epoch + 1}/${ctx.epochs}: loss ${logs.loss.toFixed(4)} acc ${logs.acc.toFixed(4)}` +
          `${val} lr ${logs.lr.toPrecision(3)} (${logs.seconds.toFixed(1)} s, ${Math.round(logs.imagesPerSecond)} img/s)${tty ? '\x1b[K' : ''}\n`,
      );
    },
  };
}

/**
 * Fine-tuning's second phase: layers from `first` on become trainable, except BatchNormalization layers, which
 * stay frozen and in inference mode (Keras's transfer-learning guide: their statistics would be wrecked by small
 * batches). Layers before `first` keep their state.
 */
export function unfreezeFrom(model: tf.LayersModel, first: string): void {
  const index = model.layers.findIndex((l) => l.name === first);
  if (index < 0) throw new Error(`fineTune.from: no layer named '${first}' in ${model.name}; its conv layers are ${model.layers.filter((l) => /Conv/.test(l.getClassName())).map((l) => l.name).slice(-8).join(', ')}, …`);
  model.layers.forEach((layer, i) => {
    if (i >= index && layer.getClassName() !== 'BatchNormalization') layer.trainable = true;
  });
}

/** Freeze every layer up to (not including) `firstTrainable`; fine-tuning VGG16 trains block5 and the top. */
export function freezeUntil(model: tf.LayersModel, firstTrainable: string): void {
  const index = model.layers.findIndex((l) => l.name === firstTrainable);
  if (index < 0) throw new Error(`freezeUntil: no layer named '${firstTrainable}' in ${model.name}`);
  model.layers.forEach((layer, i) => {
    layer.trainable = i >= index;
  });
}
