/**
 * 2-D convolution with a fast gradient where tfjs's own is slow or missing.
 *
 * On the wasm backend tfjs has no Conv2DBackpropFilter kernel at all, and its
 * Conv2DBackpropInput is a plain loop about 5-10x slower than the forward conv (which runs on
 * XNNPACK). On the cpu backend Conv2DBackpropFilter is a naive loop that takes ~90% of a
 * training step. Mode 'fast' keeps the forward (the backend's Conv2D kernel) and replaces the
 * backward with formulations measured to be fastest on each backend (test/bench/conv.bench.ts):
 *
 * - filter gradient, wasm (and any backend but cpu): ONE stride-1 conv2d with dilation = stride
 *   of the transposed input x^T [ci, h, w, n] with the transposed output gradient
 *   dy^T [oh, ow, n, co] as its filter; its output is [ci, kh, kw, co] (padding is passed to
 *   that conv as explicit padding, unused trailing rows/cols are cropped from x). A 1x1
 *   stride-1 conv's filter gradient is one matMul of x^T (transposed first) and dy instead.
 * - filter gradient, cpu: a direct loop over typed arrays (the cpu backend's conv2d and matMul
 *   run ~0.2-0.6 GMAC/s, a tight JS loop that skips the zeros ReLU leaves is as fast or faster).
 * - input gradient, wasm: the transposed convolution as ONE stride-1 conv2d of dy with a
 *   "sub-pixel" filter [D, D, co, s*s*ci] (every stride phase of dx as its own group of output
 *   channels, built in JS from the filter), then a reshape/transpose/reshape depth-to-space.
 *   Falls back to tf.conv2dTranspose for padding >= kernel size.
 * - input gradient, cpu and others: tf.conv2dTranspose (the cpu kernel is fine).
 *
 * The fast op is a registered kernel ('JigCluConv2D', delegating to the backend's Conv2D) with
 * a registered gradient, rather than tf.customGrad, so that each gradient is lazy: tfjs computes
 * dx only when something upstream needs it (never for the first conv, whose input is the
 * image), as it does for its own Conv2D.
 */
import * as tf from '../backend/tfjs';

export type ConvGradMode = 'fast' | 'native';
/** Padding as PyTorch writes it (symmetric, explicit pixels), or TF's 'same'/'valid'. */
export type ConvPadding = number | 'same' | 'valid';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
type Shape4 = [number, number, number, number];

const FAST_CONV = 'JigCluConv2D';

/** 'fast' on wasm/cpu, 'native' on tfjs-node(-gpu) ('tensorflow' backend): the default for the current backend. */
export function defaultConvGradMode(backendName: string): ConvGradMode {
  return backendName === 'wasm' || backendName === 'cpu' ? 'fast' : 'native';
}

/** NHWC input x [n,h,w,ci], filter [kh,kw,ci,co] (HWIO), square stride; no bias; dilation 1. */
export function conv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  stride: number,
  padding: ConvPadding,
  mode: ConvGradMode = defaultConvGradMode(tf.getBackend()),
): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`conv2d: x must be rank 4 (NHWC), got shape [${x.shape.join(',')}]`);
  if (filter.rank !== 4) {
    throw new Error(`conv2d: filter must be rank 4 (HWIO), got shape [${filter.shape.join(',')}]`);
  }
  if (x.shape[3] !== filter.shape[2]) {
    throw new Error(`conv2d: x has ${x.shape[3]} channels but the filter expects ${filter.shape[2]}`);
  }
  if (!Number.isInteger(stride) || stride < 1)
    throw new Error(`conv2d: stride must be a positive integer, got ${stride}`);
  const pad = toPad(padding);
  if (mode === 'native') return tf.conv2d(x, filter, stride, pad);
  if (mode !== 'fast') throw new Error(`conv2d: unknown gradient mode '${String(mode)}'`);
  ensureFastConvRegistered(tf.getBackend());
  const attrs = { strides: [stride, stride], pad, dilations: [1, 1], dataFormat: 'NHWC' };
  return tf.engine().runKernel(FAST_CONV, { x, filter }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

function toPad(padding: ConvPadding): Pad {
  if (padding === 'same' || padding === 'valid') return padding;
  if (typeof padding !== 'number' || !Number.isInteger(padding) || padding < 0) {
    throw new Error(
      `conv2d: padding must be 'same', 'valid' or a non-negative integer, got ${String(padding)}`,
    );
  }
  return [
    [0, 0],
    [padding, padding],
    [padding, padding],
    [0, 0],
  ];
}

/**
 * Registers `name` on a backend as an alias of the backend's own `base` kernel (same forward),
 * and, once, `gradFunc` as its gradient: how our ops swap in a faster backward pass while each
 * backend keeps its native forward.
 */
export function registerDelegatingKernel(name: string, base: string, backendName: string, inputsToSave: string[], gradFunc: tf.GradConfig['gradFunc']): void {
  if (!tf.getKernel(name, backendName)) {
    const kernel = tf.getKernel(base, backendName);
    if (!kernel) throw new Error(`the ${backendName} backend has no ${base} kernel`);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc: kernel.kernelFunc });
  }
  if (!tf.getGradient(name)) tf.registerGradient({ kernelName: name, inputsToSave, gradFunc });
}

function ensureFastConvRegistered(backendName: string): void {
  registerDelegatingKernel(FAST_CONV, 'Conv2D', backendName, ['x', 'filter'], fastConvGrad);
}

function fastConvGrad(
  dyIn: tf.Tensor | tf.Tensor[],
  saved: tf.Tensor[],
  attrs: tf.NamedAttrMap,
): ReturnType<tf.GradFunc> {
  const dy = dyIn as tf.Tensor4D;
  const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
  const strides = attrs.strides as [number, number];
  const pad = attrs.pad as Pad;
  const stride = strides[0];
  const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, stride, 1, pad);
  const { top, left } = info.padInfo;
  const backend = tf.getBackend();
  return {
    x: () =>
      backend === 'wasm'
        ? inputGradSubPixel(dy, filter, x.shape, stride, top, left, pad)
        : tf.conv2dTranspose(dy, filter, x.shape, stride, pad),
    filter: () =>
      backend === 'cpu'
        ? filterGradLoop(x, dy, filter.shape, stride, top, left)
        : filterGradDilated(x, dy, filter.shape, stride, top, left),
  };
}

/**
 * dL/dfilter as one conv2d: dW[i,j,c,o] = sum_{b,y,x} xp[b, s*y+i, s*x+j, c] * dy[b,y,x,o] is a
 * stride-1 convolution, dilated by s, of x^T [c, h, w, b] (batch c, channels b) with
 * dy^T [oh, ow, b, o] as filter, giving [c, kh, kw, o].
 */
function filterGradDilated(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: Shape4,
  s: number,
  top: number,
  left: number,
): tf.Tensor4D {
  const [n, h, w, ci] = x.shape;
  const [, oh, ow] = dy.shape;
  const [kh, kw] = filterShape;
  if (kh === 1 && kw === 1 && s === 1 && oh === h && ow === w) {
    // A 1x1 conv is a matMul: dW = x^T dy (wasm's matMul with transposeA is ~10x slower than
    // transposing first; the dilated conv with a [h, w, n, co] filter ~3x).
    const rows = n * h * w;
    const xT = tf.transpose(tf.reshape(x, [rows, ci]));
    return tf.reshape(tf.matMul(xT, tf.reshape(dy, [rows, filterShape[3]])), filterShape);
  }
  // Rows/cols of the padded input the forward read; pad or crop the bottom/right to exactly that.
  let bottom = (oh - 1) * s + kh - top - h;
  let right = (ow - 1) * s + kw - left - w;
  let xs = x;
  if (bottom < 0 || right < 0) {
    xs = tf.slice(x, [0, 0, 0, 0], [n, h + Math.min(bottom, 0), w + Math.min(right, 0), ci]);
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  const xT = tf.transpose(xs, [3, 1, 2, 0]);
  const dyT = tf.transpose(dy, [1, 2, 0, 3]);
  const pad: Pad = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  const dwT = tf.conv2d(xT, dyT, 1, pad, 'NHWC', s); // [ci, kh, kw, co]
  return tf.transpose(dwT, [1, 2, 0, 3]);
}

/** dL/dfilter by a direct loop over the typed arrays (the cpu backend's data lives in JS). */
function filterGradLoop(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: Shape4,
  s: number,
  top: number,
  left: number,
): tf.Tensor4D {
  const [n, h, w, ci] = x.shape;
  const [, oh, ow, co] = dy.shape;
  const [kh, kw] = filterShape;
  const xv = x.dataSync() as Float32Array;
  const dv = dy.dataSync() as Float32Array;
  const acc = new Float64Array(kh * kw * ci * co);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const dOff = ((b * oh + y) * ow + xo) * co;
        for (let i = 0; i < kh; i++) {
          const r = y * s + i - top;
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < kw; j++) {
            const c = xo * s + j - left;
            if (c < 0 || c >= w) continue;
            const xOff = ((b * h + r) * w + c) * ci;
            let wOff = (i * kw + j) * ci * co;
            for (let a = 0; a < ci; a++, wOff += co) {
              const v = xv[xOff + a]!;
              if (v === 0) continue; // ReLU outputs are half zeros
              for (let o = 0; o < co; o++) acc[wOff + o] = acc[wOff + o]! + v * dv[dOff + o]!;
            }
          }
        }
      }
    }
  }
  return tf.tensor4d(Float32Array.from(acc), filterShape);
}

/**
 * dL/dx as one stride-1 conv2d plus a depth-to-space. With xp the padded input,
 * dx[u] = sum_o dy[o] * w[u + top - s*o]; writing u = s*a + r and o = a + d,
 * dx[s*a + r] = sum_d dy[a + d] * w[r + top - s*d]: for every phase r a stride-1 correlation
 * of dy with a sub-filter, all phases together one conv2d with s*s*ci output channels.
 */
function inputGradSubPixel(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  xShape: Shape4,
  s: number,
  top: number,
  left: number,
  pad: Pad,
): tf.Tensor4D {
  const [n, h, w, ci] = xShape;
  const [, oh, ow, co] = dy.shape;
  const [kh, kw] = filter.shape;
  // Padding of kernel size or more would need a cropped dy: rare, leave it to tfjs.
  if (top > kh - 1 || left > kw - 1) return tf.conv2dTranspose(dy, filter, xShape, s, pad);
  const dMinH = Math.ceil((top - kh + 1) / s);
  const dMaxH = Math.floor((top + s - 1) / s);
  const dMinW = Math.ceil((left - kw + 1) / s);
  const dMaxW = Math.floor((left + s - 1) / s);
  const sizeH = dMaxH - dMinH + 1;
  const sizeW = dMaxW - dMinW + 1;
  const rowsA = Math.ceil(h / s);
  const colsB = Math.ceil(w / s);
  let padBottom = rowsA + dMaxH - oh;
  let padRight = colsB + dMaxW - ow;
  let d = dy;
  if (padBottom < 0 || padRight < 0) {
    d = tf.slice(dy, [0, 0, 0, 0], [n, oh + Math.min(padBottom, 0), ow + Math.min(padRight, 0), co]);
    padBottom = Math.max(padBottom, 0);
    padRight = Math.max(padRight, 0);
  }
  // The sub-pixel filter: block (q1, q2, r1, r2) is w[i, j]^T [co, ci] (or zeros), copied in JS
  // from w transposed on the backend ([kh, kw, co, ci]); wasm's gather and reverse are slow.
  const block = co * ci;
  const wv = tf.transpose(filter, [0, 1, 3, 2]).dataSync() as Float32Array;
  const g = new Float32Array(sizeH * sizeW * s * s * block);
  let t = 0;
  for (let q1 = 0; q1 < sizeH; q1++) {
    for (let q2 = 0; q2 < sizeW; q2++) {
      for (let r1 = 0; r1 < s; r1++) {
        const i = r1 + top - s * (dMinH + q1);
        for (let r2 = 0; r2 < s; r2++, t += block) {
          const j = r2 + left - s * (dMinW + q2);
          if (i < 0 || i >= kh || j < 0 || j >= kw) continue;
          const from = (i * kw + j) * block;
          g.set(wv.subarray(from, from + block), t);
        }
      }
    }
  }
  let gT: tf.Tensor = tf.tensor4d(g, [sizeH * sizeW, s * s, co, ci]);
  if (s > 1) gT = tf.transpose(gT, [0, 2, 1, 3]);
  gT = tf.reshape(gT, [sizeH, sizeW, co, s * s * ci]);
  const convPad: Pad = [
    [0, 0],
    [-dMinH, padBottom],
    [-dMinW, padRight],
    [0, 0],
  ];
  let out = tf.conv2d(d, gT as tf.Tensor4D, 1, convPad); // [n, rowsA, colsB, s*s*ci]
  if (s > 1) {
    // depth-to-space as reshape/transpose/reshape: wasm's DepthToSpace kernel is ~20x slower.
    out = tf.reshape(out, [n * rowsA, colsB, s, s * ci]);
    out = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [n, rowsA * s, colsB * s, ci]);
  }
  if (rowsA * s === h && colsB * s === w) return out;
  return tf.slice(out, [0, 0, 0, 0], [n, h, w, ci]);
}
