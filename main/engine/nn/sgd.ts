import { fusedMomentum, fusedStep, webGpuSgdReady } from '../backend/sgd-webgpu';
import * as tf from '../backend/tfjs';

/**
 * SGD with momentum and weight decay, PyTorch semantics (torch.optim.SGD, dampening 0, no
 * Nesterov): d = g + wd * w; buf = momentum * buf + d (buf = d on the first step);
 * w = w - lr * buf. Weight decay applies to every parameter, as in the reference.
 */
export class Sgd {
  /** Momentum buffers by parameter name; absent until a parameter's first step. */
  readonly buffers = new Map<string, tf.Variable>();

  constructor(
    public momentum: number,
    public weightDecay: number,
  ) {}

  /** Applies one step; `grads` maps parameter names to gradients (disposed by the caller's tidy). */
  step(params: [string, tf.Variable][], grads: Record<string, tf.Tensor>, lr: number): void {
    tf.tidy(() => {
      const fused = webGpuSgdReady();
      for (const [name, weight] of params) {
        const grad = grads[name];
        if (!grad) continue;
        if (fused) {
          // Two kernels per parameter on WebGPU (sgd-webgpu.ts), the same arithmetic.
          const existing = this.buffers.get(name);
          const next = fusedMomentum(weight, grad, existing, this.momentum, this.weightDecay);
          if (existing) existing.assign(next);
          else this.buffers.set(name, tf.variable(next, false, `sgd_${name}_${Math.random().toString(36).slice(2, 8)}`));
          weight.assign(fusedStep(weight, this.buffers.get(name)!, lr));
          continue;
        }
        const d = this.weightDecay ? tf.add(grad, tf.mul(weight, this.weightDecay)) : grad;
        let buffer = this.buffers.get(name);
        if (!buffer) {
          // The name only labels the variable in tfjs's registry: any unique string behaves the
          // same, and so does none (tfjs numbers unnamed variables).
          // Stryker disable next-line StringLiteral,MethodExpression: equivalent, as said above
          buffer = tf.variable(d, false, `sgd_${name}_${Math.random().toString(36).slice(2, 8)}`);
          this.buffers.set(name, buffer);
        } else {
          buffer.assign(tf.add(tf.mul(buffer, this.momentum), d));
        }
        weight.assign(tf.sub(weight, tf.mul(buffer, lr)));
      }
    });
  }

  dispose(): void {
    for (const buffer of this.buffers.values()) buffer.dispose();
    this.buffers.clear();
  }
}
