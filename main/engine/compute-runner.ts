import type { GpuHostClient } from '../gpu-host/client';
import { onCpuEngine } from './backend';
import { classifyFiles, embedFiles, type ComputeJob, type JobHooks } from './compute-jobs';
import { exportBackboneFiles } from './export-jobs';
import { writeScaleoutJob } from './scaleout-job';
import { importWeightsFile } from './weights-import';
import { kmeans } from './kmeans';
import { nearDuplicatePairs, pca2d, umap2d } from './projection';

/**
 * Runs one compute job in the trainer process and returns its result (structured-cloneable).
 * `computeWindow`: the desktop app's WebGPU compute window, for the jobs that run there (embed).
 */
export async function runComputeJob(job: ComputeJob, hooks: JobHooks, computeWindow?: GpuHostClient): Promise<unknown> {
  switch (job.kind) {
    case 'embed':
      return embedFiles(job, hooks, computeWindow);
    case 'kmeans': {
      const maxIterations = job.maxIterations ?? 50;
      hooks.progress(0, maxIterations, 'k-means');
      return onCpuEngine(() => kmeans(job.features, job.n, job.dim, {
        k: job.k,
        seed: job.seed,
        metric: job.metric,
        maxIterations,
        onIteration: (iteration) => hooks.progress(iteration, maxIterations, 'k-means'),
      }));
    }
    case 'pca':
      return onCpuEngine(() => pca2d(job.features, job.n, job.dim));
    case 'umap':
      return onCpuEngine(() => umap2d(job.features, job.n, job.dim, { seed: job.seed, metric: 'cosine', onEpoch: (epoch, total) => hooks.progress(epoch, total, 'UMAP') }));
    case 'classify':
      return classifyFiles(job, hooks);
    case 'duplicates':
      return onCpuEngine(() => nearDuplicatePairs(job.features, job.n, job.dim, job.threshold, job.metric, job.limit));
    case 'export-backbone':
      return exportBackboneFiles(job, hooks);
    case 'scaleout-export':
      return writeScaleoutJob(job, hooks);
    case 'import-weights':
      return importWeightsFile(job, hooks);
  }
}
