import * as tf from '../backend/tfjs';
import { matMul } from '../nn/matmul';

/**
 * The parameter-free decoupling of JigClu: the backbone's last feature map [n, h, w, c] becomes
 * one feature per patch, [n, m, m, c]. The reference (resnet_jigclu.py, `ResNet.forward`)
 * enlarges the map with `F.interpolate(size=(8, 8), mode='bilinear', align_corners=False)` and
 * then applies `AdaptiveAvgPool2d((2, 2))`: enlarge to a multiple of m rather than shrink, so
 * no row is dropped or counted twice. For m = 3 the same rule gives 9 x 9.
 *
 * Both steps are linear and separable, so per axis they are one fixed m x h matrix
 * A = Pool(T -> m) . Bilinear(h -> T), and the whole map is out[i, j] = sum_yx A[i, y] A[j, x]
 * in[y, x]: one batched matMul by the (m*m) x (h*w) matrix kron(A_h, A_w). Its gradient is the
 * transposed matMul (nn/matmul.ts: on wasm an explicit transpose and a plain product), and it
 * costs the same on every engine (wasm, cpu, WebGPU, tfjs-node).
 *
 * 'pool' is the decoupling of configs written before the reference was followed here
 * (adaptive average pooling straight to m x m); those runs keep it so they continue unchanged.
 */
export type Decoupling = 'interpolate' | 'pool';

/** The side the reference enlarges the map to: the smallest multiple of m that is at least 8. */
export function interpolatedSide(grid: number): number {
  return grid * Math.ceil(8 / grid);
}

/**
 * PyTorch's bilinear resize along one axis (`upsample_bilinear2d`, align_corners=False, size
 * given, so scale = input / output): [output, input] row weights.
 */
export function bilinearMatrix(input: number, output: number): Float64Array {
  const weights = new Float64Array(output * input);
  const scale = input / output;
  // Stryker disable next-line EqualityOperator: equivalent: one more pass writes past the end of a typed array, which JavaScript ignores (the `>=` variant, no pass, is disabled with it; it would leave the matrix all zero)
  for (let o = 0; o < output; o += 1) {
    const source = Math.max(0, (o + 0.5) * scale - 0.5);
    // Stryker disable next-line ArithmeticOperator: equivalent: source < input - 0.5 for every o < output, so the clamp (PyTorch's) never bites
    const i0 = Math.min(Math.floor(source), input - 1);
    const i1 = i0 < input - 1 ? i0 + 1 : i0;
    const lambda1 = source - i0;
    weights[o * input + i0]! += 1 - lambda1;
    weights[o * input + i1]! += lambda1;
  }
  return weights;
}

/**
 * PyTorch's adaptive average pooling along one axis: [output, input], bin i spans
 * [floor(i * input / output), ceil((i + 1) * input / output)).
 */
export function adaptivePoolMatrix(input: number, output: number): Float64Array {
  const weights = new Float64Array(output * input);
  // Stryker disable next-line EqualityOperator: equivalent: one more pass writes past the end of a typed array, which JavaScript ignores (the `>=` variant, no pass, is disabled with it; it would leave the matrix all zero)
  for (let i = 0; i < output; i += 1) {
    const start = Math.floor((i * input) / output);
    const end = Math.ceil(((i + 1) * input) / output);
    for (let k = start; k < end; k += 1) weights[i * input + k] = 1 / (end - start);
  }
  return weights;
}

/** The per-axis decoupling matrix [grid, size]: what each patch cell takes from each map row. */
export function decouplingAxis(size: number, grid: number, mode: Decoupling): Float64Array {
  if (mode === 'pool') return adaptivePoolMatrix(size, grid);
  const side = interpolatedSide(grid);
  const resize = bilinearMatrix(size, side);
  const pool = adaptivePoolMatrix(side, grid);
  const axis = new Float64Array(grid * size);
  // Stryker disable next-line EqualityOperator: equivalent: one more pass writes past the end of a typed array, which JavaScript ignores (the `>=` variant, no pass, is disabled with it; it would leave the matrix all zero)
  for (let i = 0; i < grid; i += 1) {
    for (let o = 0; o < side; o += 1) {
      const p = pool[i * side + o]!;
      for (let y = 0; y < size; y += 1) axis[i * size + y]! += p * resize[o * size + y]!;
    }
  }
  return axis;
}

const kernels = new Map<string, Float32Array>();

/** kron(A_h, A_w) as float32 [m*m, h*w], row i*m + j, column y*w + x (cached per shape). */
export function decouplingKernel(h: number, w: number, grid: number, mode: Decoupling): Float32Array {
  const key = `${h}x${w}/${grid}/${mode}`;
  let kernel = kernels.get(key);
  if (!kernel) {
    const rows = decouplingAxis(h, grid, mode);
    const cols = decouplingAxis(w, grid, mode);
    kernel = new Float32Array(grid * grid * h * w);
    // Each extra pass of a `<=` bound writes past the end of the kernel (ignored) or into the next
    // row or cell, which a later pass overwrites with its right value: equivalent. (The `>=`
    // variants, no pass, are disabled with them; they would leave the kernel all zero.)
    // Stryker disable EqualityOperator: equivalent, as said above
    for (let i = 0; i < grid; i += 1) {
      for (let j = 0; j < grid; j += 1) {
        for (let y = 0; y < h; y += 1) {
          for (let x = 0; x < w; x += 1) kernel[(i * grid + j) * h * w + y * w + x] = rows[i * h + y]! * cols[j * w + x]!;
        }
      }
    }
    // Stryker restore EqualityOperator
    kernels.set(key, kernel);
  }
  return kernel;
}

/** Feature map [n, h, w, c] -> patch features [n, m*m, c], cell i*m + j (row-major). */
export function decouple(map: tf.Tensor4D, grid: number, mode: Decoupling): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, h, w, c] = map.shape;
    const cells = grid * grid;
    const kernel = tf.tensor3d(decouplingKernel(h, w, grid, mode), [1, cells, h * w]);
    // tfjs's batched matMul broadcasts the kernel's batch of 1 over the n feature maps.
    return matMul(kernel, tf.reshape(map, [n, h * w, c])) as tf.Tensor3D;
  });
}
