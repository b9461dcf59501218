import type { EngineReport } from '../common/engine';
import {
  estimateTrainingMemoryMb,
  gpuBatchProblem,
  largestActivationBytes,
  stepsPerEpochFor,
  validatePretrainConfig,
  type FieldError,
  type PretrainConfig,
  type PretrainOverrides,
  type PresetName,
} from '../common/pretrain-config';
import type { PretrainEstimate } from '../common/runs';
import { TrainerHost } from '../jobs/trainer-host';
import type { PretrainingOptions, ServiceContext } from './context';
import { jobEngine, jobThreads } from './engine-setting';

/**
 * On the webgpu engine: the run's largest buffer against the adapter's limit (WebGPU does not
 * tell a GPU's total memory), and a batch error when it does not fit.
 */
function gpuFit(config: PretrainConfig | undefined, engine: EngineReport, errors: FieldError[]): Pick<PretrainEstimate, 'gpuBuffer'> {
  const adapter = engine.chosen === 'webgpu' ? engine.candidates.find((c) => c.name === 'webgpu')?.adapter : undefined;
  if (!config || !adapter) return {};
  const limit = Math.min(adapter.limits.maxBufferSize, adapter.limits.maxStorageBufferBindingSize);
  const problem = gpuBatchProblem(config, adapter.limits);
  if (problem) errors.push({ field: 'batch', message: problem });
  return { gpuBuffer: { largestMb: Math.ceil(largestActivationBytes(config) / 2 ** 20), limitMb: Math.floor(limit / 2 ** 20) } };
}

/**
 * The new-run form's estimate: settings checked field by field, steps, memory, the engine, and
 * the time per step measured in a trainer process (or read from the run training now).
 */
export class PretrainEstimator {
  /** Measured seconds per step, by engine and model shape, for this session. */
  private readonly measurements = new Map<string, Promise<{ secondsPerStep: number; warmupSeconds?: number }>>();

  /**
   * @param training the run training now, if any: its config and speed (one training job at a time).
   */
  constructor(
    private readonly context: ServiceContext,
    private readonly options: PretrainingOptions,
    private readonly training: () => { config?: PretrainConfig; imagesPerSecond?: number } | undefined,
  ) {}

  /**
   * Checks run settings field by field (for `imageCount` images) and estimates the run: steps,
   * memory, the engine, and with `measure` the time per step from a few warm-up steps in a
   * trainer process.
   */
  async estimate(imageCount: number, args: { folderIds?: number[]; preset: PresetName; overrides: Record<string, unknown>; measure: boolean }): Promise<PretrainEstimate> {
    const overrides = Object.fromEntries(Object.entries(args.overrides).filter(([, value]) => value !== null && value !== '')) as PretrainOverrides;
    const { config, errors } = validatePretrainConfig(args.preset, overrides, imageCount);
    // No images: one error that says what to do (not a batch size to lower).
    if (imageCount === 0) {
      const message = args.folderIds ? 'the chosen folders have no images; import some first.' : 'the library has no images; add a folder first.';
      errors.splice(0, errors.length, ...errors.filter((error) => error.field !== 'folders'), { field: 'folders', message });
    }
    const engine = await this.engineFor(config?.engine ?? 'auto');
    const stepsPerEpoch = config ? stepsPerEpochFor(imageCount, config.batch) : 0;
    const estimate: PretrainEstimate = {
      imageCount,
      config: config ?? null,
      errors,
      stepsPerEpoch,
      totalSteps: config ? stepsPerEpoch * config.epochs : 0,
      memoryMb: config ? estimateTrainingMemoryMb(config) : null,
      ...gpuFit(config, engine, errors),
      engine,
      timing: null,
      timingNote: args.measure ? null : 'Measure the speed to estimate the time per epoch.',
    };
    if (!args.measure) return estimate;
    if (!config || errors.length > 0) {
      estimate.timingNote = 'Fix the settings first: the speed is measured with valid settings only.';
      return estimate;
    }
    const seconds = await this.measure(config, engine);
    if (typeof seconds === 'string') {
      estimate.timingNote = seconds;
      return estimate;
    }
    estimate.timing = {
      secondsPerStep: seconds.secondsPerStep,
      secondsPerEpoch: seconds.secondsPerStep * stepsPerEpoch,
      totalSeconds: seconds.secondsPerStep * estimate.totalSteps,
      source: seconds.source,
      note: seconds.note,
    };
    return estimate;
  }

  private async measure(config: PretrainConfig, engine: EngineReport): Promise<{ secondsPerStep: number; source: 'measured' | 'active-run'; note: string } | string> {
    const shapeKey = JSON.stringify([engine.chosen, config.arch, config.width, config.grid, config.crop, config.batch, config.projectionDim, config.convGrad]);
    const active = this.training();
    if (active) {
      const activeConfig = active.config;
      const rate = active.imagesPerSecond;
      if (activeConfig && rate && JSON.stringify([engine.chosen, activeConfig.arch, activeConfig.width, activeConfig.grid, activeConfig.crop, activeConfig.batch, activeConfig.projectionDim, activeConfig.convGrad]) === shapeKey) {
        return { secondsPerStep: config.batch / rate, source: 'active-run', note: `from the run training now (${rate.toFixed(1)} images/s)` };
      }
      return 'A run is training: the speed is measured while no run trains (one training job at a time), so this estimate has no time.';
    }
    let pending = this.measurements.get(shapeKey);
    if (!pending) {
      pending = this.measureInProcess(config, engine).catch((error: Error) => {
        this.measurements.delete(shapeKey);
        throw error;
      });
      this.measurements.set(shapeKey, pending);
    }
    try {
      const { secondsPerStep, warmupSeconds } = await pending;
      const warmup = warmupSeconds !== undefined && engine.chosen === 'webgpu' ? ` after a first step of ${warmupSeconds.toFixed(1)} s (shader compilation, once per run)` : '';
      return { secondsPerStep, source: 'measured', note: `measured: 3 warm-up steps on ${engine.chosen} took ${(secondsPerStep * 1000).toFixed(0)} ms each${warmup}` };
    } catch (error) {
      return `Could not measure the speed: ${(error as Error).message}`;
    }
  }

  private measureInProcess(config: PretrainConfig, engine: EngineReport): Promise<{ secondsPerStep: number; warmupSeconds?: number }> {
    const script = this.options.trainerScript;
    if (!script && !this.options.createTrainer) return Promise.reject(new Error('the trainer process is not available on this host'));
    const host = this.options.createTrainer ? this.options.createTrainer(script ?? '') : new TrainerHost(script!, { launcher: this.options.launcher });
    if (!host.measure) return Promise.reject(new Error('this trainer cannot measure'));
    return new Promise<{ secondsPerStep: number; warmupSeconds?: number }>((resolve, reject) => {
      let answered = false;
      const timer = setTimeout(() => void host.kill(), 180_000);
      host.on('message', (message) => {
        if (message.type === 'measured') {
          answered = true;
          resolve({ secondsPerStep: message.secondsPerStep, warmupSeconds: message.warmupSeconds });
        } else if (message.type === 'failed') {
          answered = true;
          reject(new Error(message.error.message));
        }
      });
      void host.done.then((exit) => {
        clearTimeout(timer);
        if (!answered) reject(new Error(exit.kind === 'crashed' ? exit.message : 'the measuring process ended without an answer'));
      });
      host.measure!({ config, engine: engine.chosen, threads: jobThreads(this.context.db), steps: 3 });
    });
  }

  private async engineFor(requested: PretrainConfig['engine']): Promise<EngineReport> {
    return this.context.probeEngines(jobEngine(this.context.db, requested), jobThreads(this.context.db));
  }

}
