import type { Arch } from '../nn/resnet';

/**
 * Weights trained elsewhere, by their names alone (no tfjs here: the main process reads them to
 * choose a configuration): a torchvision ResNet state dict, the reference's JigClu checkpoint
 * (`module.encoder.*`, heads `fc_clu` = Linear-ReLU-Linear and `fc_loc`), or ours (the names of
 * our checkpoints, as a job's init.safetensors has them).
 */

export type ForeignSource = 'torchvision' | 'jigclu-reference' | 'jigclu';

export interface ForeignLayout {
  source: ForeignSource;
  arch: Arch;
  width: number;
  /** Our name -> the file's name, for every tensor the file gives (heads included when it has them). */
  names: Map<string, string>;
  /** From the file's heads, when it has them. */
  grid?: 2 | 3;
  projectionDim?: number;
  /** The reference numbers its 4 locations column-major: its location rows must be reordered. */
  reorderLocations: boolean;
}

/** The shape of the file's tensor that `ours` maps to. */
type Shapes = Map<string, { shape: number[] }>;

/**
 * Works out where the file's tensors go: strips `module.` and `encoder.`, renames the
 * reference's heads, drops torchvision's `fc` and every num_batches_tracked, and reads the
 * architecture (a conv3 in layer1: ResNet-50) and width (conv1's output channels / 64).
 */
export function foreignLayout(tensors: Shapes, file: string): ForeignLayout {
  const names = new Map<string, string>();
  let heads: 'reference' | 'ours' | undefined;
  for (const original of tensors.keys()) {
    let name = original;
    if (name.startsWith('module.')) name = name.slice('module.'.length);
    if (name.startsWith('encoder.')) name = name.slice('encoder.'.length);
    if (name.endsWith('num_batches_tracked') || name.startsWith('fc.') || name.startsWith('optimizer.')) continue;
    if (name.startsWith('fc_clu.') || name.startsWith('fc_loc.')) {
      heads = 'reference';
      name = name.replace(/^fc_clu\./, 'cluster_head.').replace(/^fc_loc\./, 'location_head.');
    } else if (name.startsWith('cluster_head.') || name.startsWith('location_head.')) heads ??= 'ours';
    names.set(name, original);
  }
  const stem = tensors.get(names.get('conv1.weight') ?? '');
  if (!stem || stem.shape.length !== 4) {
    throw new Error(`${file} has no conv1.weight of a ResNet (torchvision names, or the reference's module.encoder.*): it is not a ResNet-18 / ResNet-50 state dict.`);
  }
  const bottleneck = names.has('layer1.0.conv3.weight');
  if (!bottleneck && names.has('layer1.2.conv1.weight')) throw new Error(`${file} holds a ResNet-34 (3 blocks in layer1 without conv3): ResNet-18 and ResNet-50 are supported.`);
  if (bottleneck && names.has('layer3.6.conv1.weight')) throw new Error(`${file} holds a ResNet-101 or deeper: ResNet-18 and ResNet-50 are supported.`);
  const layout: ForeignLayout = {
    source: heads === 'reference' ? 'jigclu-reference' : heads === 'ours' ? 'jigclu' : 'torchvision',
    arch: bottleneck ? 'resnet50' : 'resnet18',
    width: stem.shape[0]! / 64,
    names,
    reorderLocations: heads === 'reference',
  };
  const location = tensors.get(names.get('location_head.weight') ?? '');
  const projection = tensors.get(names.get('cluster_head.2.weight') ?? '');
  if (location && projection) {
    const cells = location.shape[0]!;
    if (cells !== 4 && cells !== 9) throw new Error(`${file}: its location head has ${cells} outputs; 4 (2 x 2) or 9 (3 x 3) are supported.`);
    layout.grid = cells === 4 ? 2 : 3;
    layout.projectionDim = projection.shape[0]!;
  } else {
    for (const name of [...names.keys()]) if (name.startsWith('cluster_head.') || name.startsWith('location_head.')) names.delete(name);
  }
  return layout;
}

/** The reference's location k (column-major: row k % m, column k / m) as ours (row-major). */
export function locationRowOrder(grid: number): number[] {
  return Array.from({ length: grid * grid }, (_, ours) => (ours % grid) * grid + Math.floor(ours / grid));
}
