// Learning-rate schedules, as functions of the step number (0-based).
//   constant: lr
//   cosine:   linear warmup 0 → lr over `warmup` steps, then cosine decay to minLr at `steps`
// (nanoGPT's get_lr; step `warmup` is the first at full lr).

export interface ScheduleOptions {
  lr: number;
  minLr: number;
  warmup: number;
  steps: number;
}

export type ScheduleName = 'constant' | 'cosine';

export function learningRate(kind: ScheduleName, step: number, o: ScheduleOptions): number {
  if (kind === 'constant') return o.lr;
  if (step < o.warmup) return (o.lr * (step + 1)) / (o.warmup + 1);
  if (step >= o.steps) return o.minLr;
  const progress = (step - o.warmup) / Math.max(1, o.steps - o.warmup); // 0 → 1
  return o.minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (o.lr - o.minLr);
}
