// Counts the bytes that cross between the CPU and a device backend (webgpu, headlessgl).
// Promise: every upload (host → device) and readback (device → host) the gpujs backends
// make goes through countUpload / countReadback, so `--profile` can show what moved.

export interface TransferStats {
  uploads: number;
  uploadBytes: number;
  readbacks: number;
  readbackBytes: number;
}

const stats: TransferStats = { uploads: 0, uploadBytes: 0, readbacks: 0, readbackBytes: 0 };

/** A snapshot of the counters since the last reset. */
export function transferStats(): TransferStats {
  return { ...stats };
}

export function resetTransferStats(): void {
  stats.uploads = stats.uploadBytes = stats.readbacks = stats.readbackBytes = 0;
}

/** n float32 values went host → device. */
export function countUpload(n: number): void {
  stats.uploads++;
  stats.uploadBytes += 4 * n;
}

/** n float32 values came device → host. */
export function countReadback(n: number): void {
  stats.readbacks++;
  stats.readbackBytes += 4 * n;
}
