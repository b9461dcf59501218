import fs from 'node:fs';
import path from 'node:path';
import type { ResNetSpec } from '../nn/resnet';
import { ResNet } from '../nn/resnet';
import * as tf from '../backend/tfjs';
import { writeFileAtomic } from '../../data/atomic-file';

/** What model.json of an exported backbone describes (besides tfjs's weights manifest). */
export interface BackboneTopology {
  format: 'jigclu-backbone-v1';
  spec: ResNetSpec;
  /** Tensors are NHWC; conv filters HWIO; names follow torchvision. */
  layout: 'tfjs-nhwc-hwio';
  /** Feature width after global average pooling. */
  outChannels: number;
}

/**
 * Writes the backbone alone in tfjs's format: model.json (topology + weights manifest) and
 * weights.bin, readable by tf.io.decodeWeights, for clustering and fine-tuning.
 */
export async function exportBackbone(backbone: ResNet, dir: string, extra: Record<string, unknown> = {}): Promise<string> {
  const named = [...backbone.params.variables].map(([name, variable]) => ({ name, tensor: variable as tf.Tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const topology: BackboneTopology = { format: 'jigclu-backbone-v1', spec: backbone.spec, layout: 'tfjs-nhwc-hwio', outChannels: backbone.outChannels };
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, 'weights.bin'), Buffer.from(data));
  const modelJson = path.join(dir, 'model.json');
  writeFileAtomic(
    modelJson,
    JSON.stringify({ format: 'jigclu-backbone', generatedBy: 'JigClu Studio', modelTopology: topology, userDefinedMetadata: extra, weightsManifest: [{ paths: ['weights.bin'], weights: specs }] }, null, 2),
  );
  return modelJson;
}

/** Loads a backbone written by exportBackbone. */
export function importBackbone(dir: string): ResNet {
  const model = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as {
    modelTopology: BackboneTopology;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  if (model.modelTopology?.format !== 'jigclu-backbone-v1') throw new Error(`${dir}/model.json is not a JigClu Studio backbone export.`);
  const manifest = model.weightsManifest[0]!;
  const buffer = fs.readFileSync(path.join(dir, manifest.paths[0]!));
  const weights = tf.io.decodeWeights(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength), manifest.weights);
  const backbone = new ResNet(model.modelTopology.spec, 0);
  tf.tidy(() => {
    for (const [name, variable] of backbone.params.variables) {
      const value = weights[name];
      if (!value) throw new Error(`${dir} has no weight ${name}.`);
      variable.assign(value);
    }
  });
  for (const tensor of Object.values(weights)) tensor.dispose();
  return backbone;
}
