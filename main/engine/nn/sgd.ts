import { hostSgdReady, hostSgdStep } from '../backend/sgd-host';
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

  /**
   * `kernels` false: always the tfjs element-wise ops (the path of engines without an SGD
   * kernel, tfjs-node), which the tests compare with the kernels bit for bit.
   */
  constructor(
    public momentum: number,
    public weightDecay: number,
    readonly kernels = true,
  ) {}

  /** Applies one step; `grads` maps parameter names to gradients (disposed by the caller's tidy). */
  step(params: [string, tf.Variable][], grads: Record<string, tf.Tensor>, lr: number): void {
    tf.tidy(() => {
      const host = this.kernels && hostSgdReady();
      // Stryker disable next-line ConditionalExpression,LogicalOperator: the WebGPU branch; mutation runs have no WebGPU adapter (test/mutation/targets.mjs)
      const fused = this.kernels && webGpuSgdReady();
      for (const [name, weight] of params) {
        const grad = grads[name];
        if (!grad) continue;
        const existing = this.buffers.get(name);
        let next: [tf.Tensor, tf.Tensor];
        if (host) {
          // One kernel per parameter on wasm and cpu (sgd-host.ts), the same float32 arithmetic.
          next = hostSgdStep(weight, grad, existing, this.momentum, this.weightDecay, lr);
        } else if (fused) {
          // Two kernels per parameter on WebGPU (sgd-webgpu.ts), the same arithmetic.
          const buffer = fusedMomentum(weight, grad, existing, this.momentum, this.weightDecay);
          next = [buffer, fusedStep(weight, buffer, lr)];
        } else {
          next = this.opStep(weight, grad, existing, lr);
        }
        const [buffer, nextWeight] = next;
        if (existing) existing.assign(buffer);
        else this.buffers.set(name, this.newBuffer(name, buffer));
        weight.assign(nextWeight);
      }
    });
  }

  /** One parameter's [new buffer, new weight] as tfjs element-wise ops. */
  private opStep(weight: tf.Tensor, grad: tf.Tensor, buffer: tf.Tensor | undefined, lr: number): [tf.Tensor, tf.Tensor] {
    const d = this.weightDecay ? tf.add(grad, tf.mul(weight, this.weightDecay)) : grad;
    const next = buffer ? tf.add(tf.mul(buffer, this.momentum), d) : d;
    return [next, tf.sub(weight, tf.mul(next, lr))];
  }

  /** A momentum buffer holding `value`, out of training (not trainable). */
  private newBuffer(name: string, value: tf.Tensor): tf.Variable {
    // The name only labels the variable in tfjs's registry: any unique string behaves the
    // same, and so does none (tfjs numbers unnamed variables).
    // Stryker disable next-line StringLiteral,MethodExpression: equivalent, as said above
    return tf.variable(value, false, `sgd_${name}_${Math.random().toString(36).slice(2, 8)}`);
  }

  dispose(): void {
    for (const buffer of this.buffers.values()) buffer.dispose();
    this.buffers.clear();
  }
}
