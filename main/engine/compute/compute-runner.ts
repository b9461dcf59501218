import type { GpuHostClient } from '../../gpu-host/client';
import { onCpuEngine } from '../backend/backend';
import { classifyFiles, embedFiles, type ComputeJob, type ComputeJobKind, type ComputeJobOf, type ComputeResults, type JobHooks } from './compute-jobs';
import { exportBackboneFiles } from './export-jobs';
import { writeScaleoutJob } from './scaleout-job';
import { importWeightsFile } from './weights-import';
import { kmeans } from '../analysis/kmeans';
import { nearDuplicatePairs, pca2d, umap2d } from '../analysis/projection';

/** One runner per kind of job, each typed by what ComputeResults says that kind answers. */
type Runners = { [K in ComputeJobKind]: (job: ComputeJobOf<K>, hooks: JobHooks, computeWindow?: GpuHostClient) => Promise<ComputeResults[K]> };

const runners: Runners = {
  embed: embedFiles,
  kmeans(job, hooks) {
    const maxIterations = job.maxIterations ?? 50;
    hooks.progress(0, maxIterations, 'k-means');
    return onCpuEngine(() =>
      kmeans(job.features, job.n, job.dim, {
        k: job.k,
        seed: job.seed,
        metric: job.metric,
        maxIterations,
        onIteration: (iteration) => hooks.progress(iteration, maxIterations, 'k-means'),
      }),
    );
  },
  pca: (job) => onCpuEngine(() => pca2d(job.features, job.n, job.dim)),
  umap: (job, hooks) => onCpuEngine(() => umap2d(job.features, job.n, job.dim, { seed: job.seed, metric: 'cosine', onEpoch: (epoch, total) => hooks.progress(epoch, total, 'UMAP') })),
  classify: classifyFiles,
  duplicates: (job) => onCpuEngine(() => nearDuplicatePairs(job.features, job.n, job.dim, job.threshold, job.metric, job.limit)),
  'export-backbone': exportBackboneFiles,
  'scaleout-export': writeScaleoutJob,
  'import-weights': importWeightsFile,
};

/**
 * Runs one compute job in the trainer process and returns its result (structured-cloneable).
 * `computeWindow`: the desktop app's WebGPU compute window, for the jobs that run there (embed).
 */
export function runComputeJob<K extends ComputeJobKind>(job: ComputeJobOf<K>, hooks: JobHooks, computeWindow?: GpuHostClient): Promise<ComputeResults[K]> {
  // TypeScript cannot tie runners[job.kind] to K; the table above is what checks each pair.
  const run = runners[job.kind as K] as (job: ComputeJob, hooks: JobHooks, computeWindow?: GpuHostClient) => Promise<ComputeResults[K]>;
  return run(job, hooks, computeWindow);
}
