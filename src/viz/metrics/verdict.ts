/**
 * The cascading-randomization verdict (Adebayo et al. 2018): a map that explains the model must change once the
 * layers that make the decision are random. A method fails when its map still correlates with the trained
 * model's (|ρ| > 0.5) in at least half the steps of the cascade — it survives randomising the top half of the
 * network. Judging only the last step (every layer random) would let guided backprop pass: its ρ falls slowly,
 * 0.97 → 0.36 over eight steps on the GAP CNN, while Grad-CAM's is near 0 from the second step.
 */
export const RHO_SIMILAR = 0.5;

export interface RandomizationVerdict {
  passes: boolean;
  /** Steps where |ρ| > RHO_SIMILAR. */
  similarSteps: number;
  steps: number;
}

export function randomizationVerdict(rhos: number[]): RandomizationVerdict {
  const similarSteps = rhos.filter((r) => Math.abs(r) > RHO_SIMILAR).length;
  return { passes: similarSteps * 2 < rhos.length, similarSteps, steps: rhos.length };
}
