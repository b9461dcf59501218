import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, type NamedTensor, type SafetensorsDtype } from '../../../main/engine/weights/safetensors';

/** The one safetensors codec: checkpoints (F32), golden batches (I32, U8) and PyTorch exports (I64). */
describe('safetensors codec', () => {
  const tensors: NamedTensor<SafetensorsDtype>[] = [
    { name: 'w', shape: [2, 3], data: Float32Array.of(1.5, -2, 0, 3.25, 1e-7, -0) },
    { name: 'labels', shape: [3], data: Int32Array.of(-1, 0, 2147483647) },
    { name: 'bn.num_batches_tracked', shape: [], data: BigInt64Array.of(9007199254740993n), dtype: 'I64' },
    { name: 'mask', shape: [2, 2], data: Uint8Array.of(0, 1, 255, 7) },
  ];

  it('round-trips F32, I32, I64 and U8 with their shapes, order and metadata, the data 8-byte aligned', () => {
    const buffer = encodeSafetensors(tensors, { format: 'test', note: 'é' });
    const headerLength = Number(buffer.readBigUInt64LE(0));
    expect((8 + headerLength) % 8).toBe(0);
    const header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string }>;
    expect(Object.keys(header)).toEqual(['__metadata__', 'w', 'labels', 'bn.num_batches_tracked', 'mask']);
    expect(['w', 'labels', 'bn.num_batches_tracked', 'mask'].map((name) => header[name]!.dtype)).toEqual(['F32', 'I32', 'I64', 'U8']);
    const decoded = decodeSafetensors(buffer, ['F32', 'I32', 'I64', 'U8']);
    expect(decoded.metadata).toEqual({ format: 'test', note: 'é' });
    for (const tensor of tensors) {
      const got = decoded.tensors.get(tensor.name)!;
      expect(got.shape).toEqual(tensor.shape);
      expect(got.data.constructor).toBe(tensor.data.constructor);
      expect(Array.from(got.data as ArrayLike<unknown>)).toEqual(Array.from(tensor.data as ArrayLike<unknown>));
    }
    expect(decoded.tensors.get('bn.num_batches_tracked')!.dtype).toBe('I64');
  });

  it("reads only the dtypes it is asked for (tfjs's unless told), naming the one it refuses", () => {
    const buffer = encodeSafetensors(tensors);
    expect(() => decodeSafetensors(buffer)).toThrow('tensor bn.num_batches_tracked: dtype I64 is not supported (F32 and I32 and U8 are)');
    expect(() => decodeSafetensors(buffer, ['F32', 'I64'])).toThrow('tensor labels: dtype I32 is not supported (F32 and I64 are)');
  });

  it('refuses to write a dtype that disagrees with the data, a shape that does not hold it, or a name twice', () => {
    expect(() => encodeSafetensors([{ name: 'x', shape: [1], data: Float32Array.of(1), dtype: 'I64' as never }])).toThrow('x: dtype I64 does not match its data (F32)');
    expect(() => encodeSafetensors([{ name: 'x', shape: [2, 2], data: Float32Array.of(1, 2, 3) }])).toThrow('x: 3 values for shape [2, 2]');
    expect(() => encodeSafetensors([tensors[0]!, tensors[0]!])).toThrow('duplicate or reserved tensor name w');
    expect(() => encodeSafetensors([{ ...tensors[0]!, name: '__metadata__' }])).toThrow('duplicate or reserved tensor name __metadata__');
  });

  it('refuses a file cut short or whose offsets do not fit a shape', () => {
    const buffer = encodeSafetensors(tensors.slice(0, 1));
    expect(() => decodeSafetensors(buffer.subarray(0, 4))).toThrow('shorter than its header length');
    expect(() => decodeSafetensors(buffer.subarray(0, buffer.length - 4))).toThrow('tensor w: data_offsets [0, 24] do not fit shape [2, 3] or the file');
    const headerLength = Number(buffer.readBigUInt64LE(0));
    const header = buffer.subarray(8, 8 + headerLength).toString('utf8').replace('[2,3]', '[3,3]');
    const lying = Buffer.concat([buffer.subarray(0, 8), Buffer.from(header), buffer.subarray(8 + headerLength)]);
    expect(() => decodeSafetensors(lying)).toThrow('do not fit shape [3, 3]');
  });
});
