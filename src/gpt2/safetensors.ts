// The safetensors format (https://github.com/huggingface/safetensors), from and to bytes:
//   [8 bytes: header length N, little-endian u64][N bytes: JSON header][data area]
// The header maps each tensor name to { dtype, shape, data_offsets: [begin, end] } (offsets
// into the data area), plus an optional "__metadata__" of strings.
// Promise: pure (no Node APIs, runs in a browser); every check a reader needs, with errors
// that name the file; float tensors come out as Float32Array whatever their stored dtype.

/** Bytes per element of every dtype the format defines. */
const DTYPE_SIZE = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_SIZE;

/** The dtypes that can be read as float32 numbers. */
const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F16', 'BF16', 'F32', 'F64'];

export function isFloatDtype(dtype: SafetensorsDtype): boolean {
  return FLOAT_DTYPES.includes(dtype);
}

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data area. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string> | null;
  /** Byte offset of the data area in the file: 8 + header length. */
  dataStart: number;
}

/** A float32 tensor to write. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A tensor's JSON header entry, checked: known dtype, integer shape, offsets matching its size. */
function parseEntry(name: string, entry: unknown, dataSize: number, where: string): TensorInfo {
  const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e !== 'object' || e === null) throw new Error(`${where}: header entry '${name}' is not an object`);
  if (typeof e.dtype !== 'string' || !Object.hasOwn(DTYPE_SIZE, e.dtype)) {
    throw new Error(`${where}: tensor '${name}' has unknown dtype ${JSON.stringify(e.dtype)}`);
  }
  const dtype = e.dtype as SafetensorsDtype;
  const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!Array.isArray(e.shape) || !e.shape.every(isIndex)) throw new Error(`${where}: tensor '${name}' has a bad shape ${JSON.stringify(e.shape)}`);
  const offsets = e.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
    throw new Error(`${where}: tensor '${name}' has bad data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataSize) {
    throw new Error(`${where}: tensor '${name}' data_offsets [${begin}, ${end}] lie outside the data area of ${dataSize} bytes (truncated file?)`);
  }
  const shape = e.shape as number[];
  const bytes = shape.reduce((n, d) => n * d, 1) * DTYPE_SIZE[dtype];
  if (end - begin !== bytes) {
    throw new Error(`${where}: tensor '${name}' of shape [${shape.join(',')}] and dtype ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { dtype, shape, begin, end };
}

/** The header length from the first 8 bytes, checked against the file size. */
export function readHeaderLength(first8: Uint8Array, fileSize: number, where: string): number {
  if (fileSize < 8 || first8.length < 8) throw new Error(`${where}: ${fileSize} bytes is too short to be a safetensors file`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) throw new Error(`${where}: header length ${n} exceeds the ${fileSize - 8} bytes after it (truncated or not a safetensors file)`);
  if (n < 2n) throw new Error(`${where}: header length ${n} is too short for a JSON object`);
  return Number(n);
}

/**
 * Parses and checks the JSON header, given the size of the data area behind it. The
 * tensors must tile the data area exactly: no overlaps, no gaps, nothing left over.
 */
export function parseHeader(headerBytes: Uint8Array, dataSize: number, where: string): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw new Error(`${where}: header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: header is not a JSON object`);
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> | null = null;
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw new Error(`${where}: __metadata__ must map strings to strings`);
      }
      metadata = entry as Record<string, string>;
    } else {
      tensors.set(name, parseEntry(name, entry, dataSize, where));
    }
  }
  // walk the tensors in file order: each must start where the previous one ended
  const byOffset = [...tensors].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let pos = 0;
  let prev = '';
  for (const [name, t] of byOffset) {
    if (t.begin < pos) throw new Error(`${where}: tensors '${prev}' and '${name}' overlap (bytes ${t.begin}–${pos})`);
    if (t.begin > pos) throw new Error(`${where}: bytes ${pos}–${t.begin} of the data area belong to no tensor`);
    pos = t.end;
    prev = name;
  }
  if (pos !== dataSize) throw new Error(`${where}: the tensors cover ${pos} bytes but the data area has ${dataSize}`);
  return { tensors, metadata, dataStart: 8 + headerBytes.length };
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE half → float (subnormals, infinities and NaN included). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * A tensor's little-endian bytes as float32 numbers. F32 bytes at a 4-aligned offset are
 * viewed, not copied, so a caller that reads into a fresh buffer pays for one copy only.
 */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype, where: string): Float32Array {
  if (!littleEndian) throw new Error('safetensors: big-endian hosts are not supported');
  const aligned = (size: number) => (bytes.byteOffset % size === 0 ? bytes : bytes.slice());
  switch (dtype) {
    case 'F32': {
      const b = aligned(4);
      return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    }
    case 'F64': {
      const b = aligned(8);
      return Float32Array.from(new Float64Array(b.buffer, b.byteOffset, b.length / 8));
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32
      const b = aligned(2);
      const u16 = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
      const u32 = new Uint32Array(u16.length);
      for (let i = 0; i < u16.length; i++) u32[i] = u16[i] << 16;
      return new Float32Array(u32.buffer);
    }
    case 'F16': {
      const b = aligned(2);
      const u16 = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
      return Float32Array.from(u16, halfToFloat);
    }
    default:
      throw new Error(`${where}: dtype ${dtype} is not a float type (readable: ${FLOAT_DTYPES.join(', ')})`);
  }
}

/**
 * The first bytes of a file holding `tensors` (float32, in the given order): length, JSON
 * header padded with spaces so the data area starts 8-aligned (as the Python library does).
 * The data follows as each tensor's bytes back to back.
 */
export function encodeHeader(tensors: readonly { name: string; shape: number[] }[], metadata: Record<string, string> | null = null): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== null) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((n, d) => n * d, 1) * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

/** A whole file in memory (small models, the browser). */
export function serialize(tensors: readonly NamedTensor[], metadata: Record<string, string> | null = null): Uint8Array {
  const head = encodeHeader(tensors, metadata);
  const out = new Uint8Array(head.length + tensors.reduce((n, t) => n + t.data.byteLength, 0));
  out.set(head, 0);
  let offset = head.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), offset);
    offset += t.data.byteLength;
  }
  return out;
}

/** Parses a whole file held in memory; `where` (a file name) prefixes every error. */
export function parseHeaderFromBytes(bytes: Uint8Array, where: string): SafetensorsHeader {
  const n = readHeaderLength(bytes.subarray(0, 8), bytes.length, where);
  return parseHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, where);
}

/** The bytes of one tensor of an in-memory file, as float32. */
export function readTensor(bytes: Uint8Array, header: SafetensorsHeader, name: string, where: string): Float32Array {
  const t = header.tensors.get(name);
  if (t === undefined) throw new Error(`${where}: no tensor named '${name}'`);
  return toFloat32(bytes.subarray(header.dataStart + t.begin, header.dataStart + t.end), t.dtype, `${where}: tensor '${name}'`);
}
