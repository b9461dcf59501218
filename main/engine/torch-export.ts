import fs from 'node:fs';
import os from 'node:os';
import type { ResNetSpec } from './resnet';
import { ResNet } from './resnet';
import { writeFileAtomic } from '../data/atomic-file';
import * as tf from './tfjs';

/**
 * Backbone export for PyTorch: a safetensors file whose tensors have torchvision's ResNet
 * names, shapes, dtypes and order, so that
 *
 *   model = torchvision.models.resnet18()            # or resnet50
 *   model.load_state_dict(safetensors.torch.load_file(file), strict=False)
 *
 * reports only `fc.weight` and `fc.bias` as missing (the backbone has no classifier).
 * Conv filters are transposed from tfjs's HWIO to PyTorch's OIHW; BatchNorm weight, bias,
 * running_mean and running_var are F32 as they are; every BatchNorm also gets the I64 scalar
 * `num_batches_tracked` that torchvision's state_dict holds.
 *
 * Width multipliers other than 1 give a ResNet with non-standard channel counts (every layer
 * round(torchvision's * width)). Such a backbone is still exported with the same names, but the
 * shapes do not fit torchvision's `resnet18()` / `resnet50()` constructors, which build width 1
 * only: loading it needs a model built with the same channel counts. The metadata says so
 * (`standard_width: "false"` and a `note`).
 *
 * The shared safetensors encoder (./safetensors) writes F32 and I32 only, so this file has its
 * own minimal encoder and decoder for F32 + I64 (the safetensors spec: 8-byte little-endian
 * header length, a JSON header of name -> { dtype, shape, data_offsets } plus a string-valued
 * `__metadata__`, padded with spaces so the data starts 8-byte aligned, then the tensors'
 * little-endian bytes back to back).
 */

export type TorchDtype = 'F32' | 'I64';

export interface TorchTensor {
  name: string;
  /** PyTorch's shape: OIHW for conv weights, [] for num_batches_tracked. */
  shape: number[];
  data: Float32Array | BigInt64Array;
  dtype: TorchDtype;
}

export interface TorchExportMetadata {
  /** The checkpoint the backbone came from (a file name or path), if any. */
  sourceCheckpoint?: string;
  /** Training steps done (the checkpoint's global step); also num_batches_tracked. */
  step?: number;
  /** More string metadata, written as given (cannot override the keys above). */
  extra?: Record<string, string>;
}

/** The metadata keys written by exportTorchBackbone (all values are strings, as safetensors requires). */
export interface TorchExportHeaderMetadata extends Record<string, string> {
  format: 'pytorch';
  layout: 'torchvision-nchw-oihw';
  arch: string;
  width: string;
  /** "true" when torchvision's own constructor (width 1) takes the weights. */
  standard_width: 'true' | 'false';
  source_checkpoint: string;
  step: string;
  missing_keys: string;
  generated_by: string;
}

const dtypeBytes: Record<TorchDtype, number> = { F32: 4, I64: 8 };

/**
 * Every backbone tensor in PyTorch layout and torchvision's state_dict order (each module's
 * parameters, then its buffers: weight, bias, running_mean, running_var, num_batches_tracked).
 * `numBatchesTracked` fills the BatchNorms' num_batches_tracked (PyTorch uses it only when
 * momentum is None; torchvision's ResNets use momentum 0.1, so it is informational).
 */
export async function torchStateDict(backbone: ResNet, numBatchesTracked = 0): Promise<TorchTensor[]> {
  const out: TorchTensor[] = [];
  for (const [name, variable] of backbone.params.variables) {
    if (variable.rank === 4) {
      // HWIO [kh, kw, in, out] -> OIHW [out, in, kh, kw]
      const transposed = tf.tidy(() => tf.transpose(variable, [3, 2, 0, 1]));
      out.push({
        name,
        shape: transposed.shape,
        data: Float32Array.from((await transposed.data()) as Float32Array),
        dtype: 'F32',
      });
      transposed.dispose();
    } else if (variable.rank === 1) {
      out.push({
        name,
        shape: variable.shape,
        data: Float32Array.from((await variable.data()) as Float32Array),
        dtype: 'F32',
      });
    } else {
      throw new Error(`${name}: a backbone tensor of rank ${variable.rank} has no torchvision counterpart`);
    }
    if (name.endsWith('.running_var')) {
      const prefix = name.slice(0, -'.running_var'.length);
      out.push({
        name: `${prefix}.num_batches_tracked`,
        shape: [],
        data: BigInt64Array.of(BigInt(Math.max(0, Math.floor(numBatchesTracked)))),
        dtype: 'I64',
      });
    }
  }
  return out;
}

function elementCount(shape: number[]): number {
  return shape.reduce((product, n) => product * n, 1);
}

function littleEndianBytes(tensor: TorchTensor): Buffer {
  if (os.endianness() === 'LE')
    return Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  const bytes = Buffer.alloc(tensor.data.byteLength);
  const { data } = tensor;
  for (let i = 0; i < data.length; i += 1) {
    if (data instanceof BigInt64Array) bytes.writeBigInt64LE(data[i]!, i * 8);
    else bytes.writeFloatLE(data[i]!, i * 4);
  }
  return bytes;
}

/** Encodes F32 / I64 tensors as safetensors, in the given order, with string metadata. */
export function encodeTorchSafetensors(
  tensors: TorchTensor[],
  metadata: Record<string, string> = {},
): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of tensors) {
    if (tensor.name === '__metadata__' || tensor.name in header)
      throw new Error(`duplicate or reserved tensor name ${tensor.name}`);
    const expected = elementCount(tensor.shape);
    const isI64 = tensor.data instanceof BigInt64Array;
    if (isI64 !== (tensor.dtype === 'I64'))
      throw new Error(`${tensor.name}: dtype ${tensor.dtype} does not match its data`);
    if (tensor.data.length !== expected)
      throw new Error(`${tensor.name}: ${tensor.data.length} values for shape [${tensor.shape.join(', ')}]`);
    const bytes = expected * dtypeBytes[tensor.dtype];
    header[tensor.name] = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let position = 8 + headerBytes.length;
  for (const tensor of tensors) {
    position += littleEndianBytes(tensor).copy(out, position);
  }
  return out;
}

/** Decodes a safetensors buffer of F32 and I64 tensors (others are refused by name). */
export function decodeTorchSafetensors(buffer: Buffer): {
  tensors: Map<string, TorchTensor>;
  metadata: Record<string, string>;
} {
  if (buffer.length < 8) throw new Error('not a safetensors file: shorter than its header length');
  const headerLength = Number(buffer.readBigUInt64LE(0));
  if (headerLength > buffer.length - 8)
    throw new Error('not a safetensors file: header length past the end of the file');
  const header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, TorchTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const {
      dtype,
      shape,
      data_offsets: offsets,
    } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (dtype !== 'F32' && dtype !== 'I64')
      throw new Error(`tensor ${name}: dtype ${dtype} is not supported (F32 and I64 are)`);
    const count = elementCount(shape);
    if (offsets[1] - offsets[0] !== count * dtypeBytes[dtype] || dataStart + offsets[1] > buffer.length) {
      throw new Error(
        `tensor ${name}: data_offsets [${offsets.join(', ')}] do not fit shape [${shape.join(', ')}] or the file`,
      );
    }
    const bytes = buffer.subarray(dataStart + offsets[0], dataStart + offsets[1]);
    let data: Float32Array | BigInt64Array;
    if (os.endianness() === 'LE') {
      const copy = new Uint8Array(bytes).buffer; // an aligned copy
      data = dtype === 'F32' ? new Float32Array(copy) : new BigInt64Array(copy);
    } else {
      data =
        dtype === 'F32'
          ? Float32Array.from({ length: count }, (_, i) => bytes.readFloatLE(i * 4))
          : BigInt64Array.from({ length: count }, (_, i) => bytes.readBigInt64LE(i * 8));
    }
    tensors.set(name, { name, shape, data, dtype });
  }
  return { tensors, metadata };
}

/** Whether torchvision's constructor for the architecture builds these channel counts. */
export function isStandardWidth(spec: ResNetSpec): boolean {
  return spec.width === 1;
}

/** The header metadata exportTorchBackbone writes. */
export function torchExportMetadata(
  backbone: ResNet,
  metadata: TorchExportMetadata = {},
): TorchExportHeaderMetadata {
  const standard = isStandardWidth(backbone.spec);
  const { arch, width } = backbone.spec;
  return {
    ...(metadata.extra ?? {}),
    ...(standard
      ? {}
      : {
          note: `width multiplier ${width}: channel counts are round(torchvision's * ${width}), so torchvision.models.${arch}() (width 1) cannot load these weights; build a ${arch} with the same channel counts instead.`,
        }),
    format: 'pytorch',
    layout: 'torchvision-nchw-oihw',
    arch,
    width: String(width),
    standard_width: standard ? 'true' : 'false',
    source_checkpoint: metadata.sourceCheckpoint ?? '',
    step: String(metadata.step ?? 0),
    missing_keys: 'fc.weight,fc.bias',
    generated_by: 'JigClu Studio',
  };
}

/**
 * Writes the backbone as a PyTorch / torchvision safetensors file (atomically) and returns the
 * path. Width-1 backbones load into `torchvision.models.<arch>()` with
 * `load_state_dict(..., strict=False)`, missing only `fc.weight` and `fc.bias`. Backbones with
 * another width multiplier are written too, but torchvision's resnet18 / resnet50 constructors
 * build width 1 only and will refuse the shapes: the metadata marks them `standard_width: "false"`.
 */
export async function exportTorchBackbone(
  backbone: ResNet,
  file: string,
  metadata: TorchExportMetadata = {},
): Promise<string> {
  const tensors = await torchStateDict(backbone, metadata.step ?? 0);
  writeFileAtomic(file, encodeTorchSafetensors(tensors, torchExportMetadata(backbone, metadata)));
  return file;
}

/**
 * Loads a torchvision-named safetensors file (ours, or a torchvision ResNet's state_dict saved
 * with safetensors in F32) into a new ResNet: OIHW filters back to HWIO. The architecture comes
 * from `spec`, else from the file's `arch` / `width` metadata. `fc.*` and num_batches_tracked
 * are ignored; any other missing or mismatched tensor is an error.
 */
export function importTorchBackbone(file: string, spec?: ResNetSpec): ResNet {
  const { tensors, metadata } = decodeTorchSafetensors(fs.readFileSync(file));
  const arch = spec?.arch ?? metadata.arch;
  if (arch !== 'resnet18' && arch !== 'resnet50')
    throw new Error(`${file}: give the architecture (its metadata names ${arch ?? 'none'})`);
  const width = spec?.width ?? Number(metadata.width ?? 1);
  const backbone = new ResNet({ arch, width }, 0);
  try {
    tf.tidy(() => {
      for (const [name, variable] of backbone.params.variables) {
        const tensor = tensors.get(name);
        if (!tensor || !(tensor.data instanceof Float32Array))
          throw new Error(`${file} has no F32 tensor ${name}`);
        const torchShape =
          variable.rank === 4
            ? [variable.shape[3]!, variable.shape[2]!, variable.shape[0]!, variable.shape[1]!]
            : variable.shape;
        if (tensor.shape.join('x') !== torchShape.join('x'))
          throw new Error(
            `${name} has shape ${tensor.shape.join('x')} in ${file} but ${torchShape.join('x')} in a ${arch} of width ${width}`,
          );
        const value = tf.tensor(tensor.data, tensor.shape);
        variable.assign(variable.rank === 4 ? tf.transpose(value, [2, 3, 1, 0]) : value);
      }
    });
  } catch (error) {
    backbone.params.dispose();
    throw error;
  }
  return backbone;
}
