import fs from 'node:fs';

/**
 * The one safetensors codec of the app (8-byte little-endian header length, a JSON header of
 * name -> { dtype, shape, data_offsets } plus a string-valued `__metadata__`, padded with spaces
 * so the data starts 8-byte aligned, then the tensors' little-endian bytes back to back).
 * Checkpoints (F32), golden batches (F32, I32, U8) and PyTorch exports (F32 plus torchvision's
 * I64 `num_batches_tracked`) are all written and read here; PyTorch reads the files with
 * `safetensors.torch.load_file`.
 */

/** The element types the app writes and reads. */
export type SafetensorsDtype = 'F32' | 'I32' | 'I64' | 'U8';

/** The typed array that holds each dtype. */
export interface SafetensorsData {
  F32: Float32Array;
  I32: Int32Array;
  I64: BigInt64Array;
  U8: Uint8Array;
}

/** The dtypes tfjs holds: what checkpoints and golden batches use, and what a read accepts by default. */
export const tfjsDtypes = ['F32', 'I32', 'U8'] as const satisfies readonly SafetensorsDtype[];

export interface NamedTensor<D extends SafetensorsDtype = 'F32' | 'I32' | 'U8'> {
  name: string;
  shape: number[];
  data: SafetensorsData[D];
  /** The element type; written files take it from `data`, and a given one must agree with it. Reads set it. */
  dtype?: D;
}

export interface SafetensorsFile<D extends SafetensorsDtype = 'F32' | 'I32' | 'U8'> {
  tensors: Map<string, NamedTensor<D> & { dtype: D }>;
  metadata: Record<string, string>;
}

const bytesPer: Record<SafetensorsDtype, number> = { F32: 4, I32: 4, I64: 8, U8: 1 };

function dtypeOf(data: SafetensorsData[SafetensorsDtype]): SafetensorsDtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  return 'U8';
}

function elementCount(shape: number[]): number {
  return shape.reduce((product, n) => product * n, 1);
}

/** Whether this machine stores numbers little-endian (every platform Node ships for today). */
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The tensor's bytes in little-endian order (a view on its data where the machine is little-endian). */
function littleEndianBytes(data: SafetensorsData[SafetensorsDtype]): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (littleEndian || data instanceof Uint8Array) return view;
  const out = new Uint8Array(data.byteLength);
  const size = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < data.byteLength; i += size) for (let b = 0; b < size; b += 1) out[i + b] = view[i + size - 1 - b]!;
  return out;
}

/**
 * Encodes tensors and string metadata; tensors are laid out in the given order. Throws on a
 * duplicate or reserved name, a dtype that disagrees with the data, or a shape that does not
 * hold the data's element count.
 */
export function encodeSafetensors(tensors: readonly NamedTensor<SafetensorsDtype>[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of tensors) {
    if (tensor.name === '__metadata__' || tensor.name in header) throw new Error(`duplicate or reserved tensor name ${tensor.name}`);
    const dtype = dtypeOf(tensor.data);
    if (tensor.dtype !== undefined && tensor.dtype !== dtype) throw new Error(`${tensor.name}: dtype ${tensor.dtype} does not match its data (${dtype})`);
    if (tensor.data.length !== elementCount(tensor.shape)) {
      throw new Error(`${tensor.name}: ${tensor.data.length} values for shape [${tensor.shape.join(', ')}]`);
    }
    const bytes = tensor.data.byteLength;
    header[tensor.name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces to an 8-byte boundary (the format allows it; keeps data aligned).
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let position = 8 + headerBytes.length;
  for (const tensor of tensors) {
    out.set(littleEndianBytes(tensor.data), position);
    position += tensor.data.byteLength;
  }
  return out;
}

/** The typed array of `dtype` over a copy of `bytes` (little-endian in the file). */
function typedData(dtype: SafetensorsDtype, bytes: Uint8Array): SafetensorsData[SafetensorsDtype] {
  const copy = new Uint8Array(bytes); // aligned, and ours to reorder
  if (!littleEndian && dtype !== 'U8') {
    const size = bytesPer[dtype];
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  if (dtype === 'F32') return new Float32Array(copy.buffer);
  if (dtype === 'I32') return new Int32Array(copy.buffer);
  if (dtype === 'I64') return new BigInt64Array(copy.buffer);
  return copy;
}

/**
 * Decodes a safetensors buffer. Only the dtypes in `accept` are read (tfjs's F32, I32 and U8
 * unless told; PyTorch exports pass ['F32', 'I64']); any other is refused by name, as is a
 * tensor whose data_offsets do not fit its shape or the file.
 */
export function decodeSafetensors<D extends SafetensorsDtype = (typeof tfjsDtypes)[number]>(
  buffer: Buffer,
  accept: readonly D[] = tfjsDtypes as unknown as readonly D[],
): SafetensorsFile<D> {
  if (buffer.length < 8) throw new Error('not a safetensors file: shorter than its header length');
  const headerLength = Number(buffer.readBigUInt64LE(0));
  if (headerLength > buffer.length - 8) throw new Error('not a safetensors file: header length past the end of the file');
  const header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const tensors: SafetensorsFile<D>['tensors'] = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry as { dtype: D; shape: number[]; data_offsets: [number, number] };
    if (!accept.includes(dtype)) throw new Error(`tensor ${name}: dtype ${dtype} is not supported (${accept.join(' and ')} are)`);
    if (offsets[1] - offsets[0] !== elementCount(shape) * bytesPer[dtype] || dataStart + offsets[1] > buffer.length) {
      throw new Error(`tensor ${name}: data_offsets [${offsets.join(', ')}] do not fit shape [${shape.join(', ')}] or the file`);
    }
    const data = typedData(dtype, buffer.subarray(dataStart + offsets[0], dataStart + offsets[1])) as SafetensorsData[D];
    tensors.set(name, { name, shape, data, dtype });
  }
  return { tensors, metadata };
}

/** The tensors' dtypes and shapes and the metadata of a safetensors file, from its header alone. */
export function readSafetensorsHeader(file: string): { tensors: Map<string, { dtype: string; shape: number[] }>; metadata: Record<string, string> } {
  const handle = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    if (fs.readSync(handle, head, 0, 8, 0) < 8) throw new Error(`${file} is not a safetensors file: shorter than its header length`);
    const length = Number(head.readBigUInt64LE(0));
    if (length > fs.fstatSync(handle).size - 8 || length > 100 << 20) throw new Error(`${file} is not a safetensors file: its header length is impossible`);
    const json = Buffer.alloc(length);
    fs.readSync(handle, json, 0, length, 8);
    let header: Record<string, { dtype: string; shape: number[] }>;
    try {
      header = JSON.parse(json.toString('utf8')) as typeof header;
    } catch {
      throw new Error(`${file} is not a safetensors file: its header is not JSON`);
    }
    const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
    const tensors = new Map(Object.entries(header).filter(([name]) => name !== '__metadata__').map(([name, entry]) => [name, { dtype: entry.dtype, shape: entry.shape }]));
    return { tensors, metadata };
  } finally {
    fs.closeSync(handle);
  }
}

/**
 * Checks that a file is a whole safetensors file without reading its data: the header parses
 * and the file is exactly as long as the header says (a checkpoint cut off by a full disk or a
 * crash is shorter). Returns why it is not, or undefined when it is.
 */
export function safetensorsProblem(file: string): string | undefined {
  let handle: number | undefined;
  try {
    handle = fs.openSync(file, 'r');
    const size = fs.fstatSync(handle).size;
    if (size < 8) return `it is ${size} bytes long, shorter than a safetensors header`;
    const lengthBytes = Buffer.alloc(8);
    fs.readSync(handle, lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength > size - 8 || headerLength > 100 * 1024 * 1024) return `its header length (${headerLength} bytes) runs past its end (${size} bytes): it was cut off`;
    const headerBytes = Buffer.alloc(headerLength);
    fs.readSync(handle, headerBytes, 0, headerLength, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(headerBytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      return 'its header is not valid JSON';
    }
    let end = 0;
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const offsets = (entry as { data_offsets?: unknown })?.data_offsets;
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((value) => Number.isSafeInteger(value))) return `tensor ${name} has no valid data_offsets`;
      end = Math.max(end, offsets[1] as number);
    }
    const expected = 8 + headerLength + end;
    if (size !== expected) return `it is ${size} bytes long but its header describes ${expected}: it was cut off`;
    return undefined;
  } catch (error) {
    return `it cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  } finally {
    if (handle !== undefined) fs.closeSync(handle);
  }
}
