/**
 * The app's tensor layouts and PyTorch's, without tfjs: conv filters are HWIO here
 * ([kh, kw, in, out]) and OIHW in PyTorch; Linear weights are [in, out] here and [out, in] in
 * PyTorch; vectors are the same. Used to write a job's init weights and to read weights back.
 */

/** The PyTorch shape of a tensor of the app's shape. */
export function torchShape(shape: number[]): number[] {
  if (shape.length === 4) return [shape[3]!, shape[2]!, shape[0]!, shape[1]!];
  if (shape.length === 2) return [shape[1]!, shape[0]!];
  return [...shape];
}

/** The app's shape of a tensor of PyTorch's shape. */
export function appShape(shape: number[]): number[] {
  if (shape.length === 4) return [shape[2]!, shape[3]!, shape[1]!, shape[0]!];
  if (shape.length === 2) return [shape[1]!, shape[0]!];
  return [...shape];
}

/** Values of an app-layout tensor in PyTorch's layout. */
export function toTorchLayout(shape: number[], data: Float32Array): Float32Array {
  if (shape.length === 4) {
    const [kh, kw, cin, cout] = shape as [number, number, number, number];
    const out = new Float32Array(data.length);
    for (let y = 0; y < kh; y += 1)
      for (let x = 0; x < kw; x += 1)
        for (let i = 0; i < cin; i += 1)
          for (let o = 0; o < cout; o += 1) out[((o * cin + i) * kh + y) * kw + x] = data[((y * kw + x) * cin + i) * cout + o]!;
    return out;
  }
  if (shape.length === 2) return transpose2d(shape[0]!, shape[1]!, data);
  return Float32Array.from(data);
}

/** Values of a PyTorch-layout tensor (of PyTorch's `shape`) in the app's layout. */
export function fromTorchLayout(shape: number[], data: Float32Array): Float32Array {
  if (shape.length === 4) {
    const [cout, cin, kh, kw] = shape as [number, number, number, number];
    const out = new Float32Array(data.length);
    for (let o = 0; o < cout; o += 1)
      for (let i = 0; i < cin; i += 1)
        for (let y = 0; y < kh; y += 1)
          for (let x = 0; x < kw; x += 1) out[((y * kw + x) * cin + i) * cout + o] = data[((o * cin + i) * kh + y) * kw + x]!;
    return out;
  }
  if (shape.length === 2) return transpose2d(shape[0]!, shape[1]!, data);
  return Float32Array.from(data);
}

function transpose2d(rows: number, cols: number, data: Float32Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r += 1) for (let c = 0; c < cols; c += 1) out[c * rows + r] = data[r * cols + c]!;
  return out;
}
