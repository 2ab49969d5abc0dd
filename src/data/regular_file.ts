// Opening a file that must be a regular file (a .bin of tokens, a .safetensors) for reading.
// Promise: never blocks (a FIFO is opened non-blocking, then refused), and a directory, FIFO,
// socket or device is refused with one line naming the path and what it is.
import { closeSync, constants, fstatSync, openSync, type Stats } from 'node:fs';

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'a special file';
}

/** A read-only file descriptor of `path`, which must be a regular file. */
export function openRegularFile(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)); // errors name the path
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new Error(`${path}: ${kind(st)}, not a regular file`);
  }
  return fd;
}
