import fs from 'node:fs';
import type { ResNetSpec } from '../nn/resnet';
import { ResNet } from '../nn/resnet';
import { writeFileAtomic } from '../../data/atomic-file';
import { decodeSafetensors, encodeSafetensors, type NamedTensor, type SafetensorsFile } from './safetensors';
import * as tf from '../backend/tfjs';

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
 * The file is written and read by the app's one safetensors codec (./safetensors).
 */

export type TorchDtype = 'F32' | 'I64';

/** A tensor as PyTorch holds it: F32, or torchvision's I64 `num_batches_tracked`. */
export type TorchTensor = NamedTensor<TorchDtype> & { dtype: TorchDtype };

/** What a PyTorch state dict file may hold. */
export const torchDtypes: readonly TorchDtype[] = ['F32', 'I64'];

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

/** Decodes a PyTorch state dict file (F32 and I64 tensors; others are refused by name). */
export function decodeTorchSafetensors(buffer: Buffer): SafetensorsFile<TorchDtype> {
  return decodeSafetensors(buffer, torchDtypes);
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
  writeFileAtomic(file, encodeSafetensors(tensors, torchExportMetadata(backbone, metadata)));
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
