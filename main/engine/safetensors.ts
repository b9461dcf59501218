import fs from 'node:fs';

/**
 * Reading and writing the safetensors format (8-byte little-endian header length, a JSON
 * header of name -> { dtype, shape, data_offsets } plus string `__metadata__`, then the raw
 * little-endian data). PyTorch reads it with `safetensors.torch.load_file`.
 */

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

/** Encodes tensors and metadata; tensors are laid out in the given order. */
export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of tensors) {
    const bytes = tensor.data.byteLength;
    header[tensor.name] = {
      dtype: tensor.data instanceof Float32Array ? 'F32' : tensor.data instanceof Uint8Array ? 'U8' : 'I32',
      shape: tensor.shape,
      data_offsets: [offset, offset + bytes],
    };
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
    Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength).copy(out, position);
    position += tensor.data.byteLength;
  }
  return out;
}

/** Decodes a safetensors buffer (F32, I32 and U8 tensors). */
export function decodeSafetensors(buffer: Buffer): SafetensorsFile {
  if (buffer.length < 8) throw new Error('not a safetensors file: shorter than its header length');
  const headerLength = Number(buffer.readBigUInt64LE(0));
  if (headerLength > buffer.length - 8) throw new Error('not a safetensors file: header length past the end of the file');
  const header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const bytes = buffer.subarray(dataStart + offsets[0], dataStart + offsets[1]);
    const copy = new Uint8Array(bytes).buffer; // aligned copy
    if (dtype === 'F32') tensors.set(name, { name, shape, data: new Float32Array(copy) });
    else if (dtype === 'I32') tensors.set(name, { name, shape, data: new Int32Array(copy) });
    else if (dtype === 'U8') tensors.set(name, { name, shape, data: new Uint8Array(copy) });
    else throw new Error(`tensor ${name}: dtype ${dtype} is not supported`);
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
