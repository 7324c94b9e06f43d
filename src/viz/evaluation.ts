/**
 * Evaluation numbers from predicted probabilities: accuracy, top-k accuracy, the confusion matrix (counts and
 * row-normalised), per-class precision / recall / F1, and for each off-diagonal cell its most confident mistakes.
 */
export interface Evaluation {
  accuracy: number;
  topK: Record<string, number>;
  /** confusion[true][predicted] */
  confusion: number[][];
  confusionNormalized: number[][];
  perClass: Array<{ precision: number; recall: number; f1: number; support: number }>;
  /** Most confident mistakes per (true, predicted) cell: sample indices, highest wrong probability first. */
  mistakes: Array<{ true: number; predicted: number; samples: Array<{ index: number; probability: number }> }>;
}

/** probs: [N, K] row-major probabilities; labels: [N]. */
export function evaluateProbabilities(probs: Float32Array, labels: ArrayLike<number>, K: number, opts: { topK?: number[]; mistakesPerCell?: number } = {}): Evaluation {
  const N = labels.length;
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const ks = opts.topK ?? [1, 3, 5].filter((k) => k <= K);
  const topHits = new Map<number, number>(ks.map((k) => [k, 0]));
  const cells = new Map<string, Array<{ index: number; probability: number }>>();
  for (let n = 0; n < N; n++) {
    const row = probs.subarray(n * K, (n + 1) * K);
    let pred = 0;
    for (let k = 1; k < K; k++) if (row[k] > row[pred]) pred = k;
    const t = labels[n];
    confusion[t][pred]++;
    // Rank of the true class: how many classes score strictly higher (ties favour the true class).
    let rank = 0;
    for (let k = 0; k < K; k++) if (row[k] > row[t]) rank++;
    for (const k of ks) if (rank < k) topHits.set(k, topHits.get(k)! + 1);
    if (pred !== t) {
      const key = `${t},${pred}`;
      if (!cells.has(key)) cells.set(key, []);
      cells.get(key)!.push({ index: n, probability: row[pred] });
    }
  }
  const perClass = confusion.map((row, k) => {
    const tp = row[k];
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, r) => a + r[k], 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support };
  });
  const per = opts.mistakesPerCell ?? 6;
  const mistakes = [...cells.entries()]
    .map(([key, samples]) => {
      const [t, p] = key.split(',').map(Number);
      return { true: t, predicted: p, samples: samples.sort((a, b) => b.probability - a.probability || a.index - b.index).slice(0, per) };
    })
    .sort((a, b) => a.true - b.true || a.predicted - b.predicted);
  return {
    accuracy: confusion.reduce((a, r, k) => a + r[k], 0) / N,
    topK: Object.fromEntries(ks.map((k) => [String(k), topHits.get(k)! / N])),
    confusion,
    confusionNormalized: confusion.map((r) => {
      const s = r.reduce((a, b) => a + b, 0);
      return r.map((v) => (s ? v / s : 0));
    }),
    perClass,
    mistakes,
  };
}
