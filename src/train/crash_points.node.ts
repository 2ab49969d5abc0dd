// Crash injection, for the tests that prove a sequence of file operations safe to kill at any
// step: with TSGRAD_CRASH_AT=NAME:N:K the process kills itself (SIGKILL: no cleanup, no
// flush, as a power cut or the OOM killer would) when the N-th run of sequence NAME in this
// process reaches its K-th step (both from 1). Unset, as always outside those tests, nothing
// happens.
const spec = /^(\w+):(\d+):(\d+)$/.exec(process.env.TSGRAD_CRASH_AT ?? '');
const runs = new Map<string, number>();

/**
 * Starts one run of the sequence `name` whose steps are `steps`, in order; returns the
 * function to call as each step is done.
 */
export function crashPoints<S extends string>(name: string, steps: readonly S[]): (done: S) => void {
  const run = (runs.get(name) ?? 0) + 1;
  runs.set(name, run);
  return (done) => {
    const k = steps.indexOf(done) + 1;
    if (spec !== null && spec[1] === name && Number(spec[2]) === run && Number(spec[3]) === k) {
      process.kill(process.pid, 'SIGKILL');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // until the signal lands
    }
  };
}
