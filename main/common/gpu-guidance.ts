/**
 * Why the CUDA GPU engine (tfjs-node-gpu) is not in use, and what to install to use it. Pure:
 * the engine probe feeds it the real load error and a few facts about the machine.
 */

/** tfjs-node-gpu 4.x is built against these; other versions do not load. */
export const gpuRequirements = { cuda: '11.2', cudnn: '8.1', package: '@tensorflow/tfjs-node-gpu' } as const;

export type GpuIssue =
  /** The GPU engine loaded and ran. */
  | 'ok'
  /** tfjs-node-gpu is not built for this OS or CPU (it exists for Linux x64 only). */
  | 'unsupported-platform'
  /** The package is not in node_modules. */
  | 'not-installed'
  /** libcuda (the NVIDIA driver) is missing: no NVIDIA GPU or no driver. */
  | 'no-cuda-driver'
  /** The CUDA runtime libraries are missing or the wrong version. */
  | 'wrong-cuda'
  /** cuDNN is missing or the wrong version. */
  | 'wrong-cudnn'
  /** Training runs on the GPU through the webgpu engine (tfjs-node-gpu is not in use). */
  | 'webgpu'
  /** The settings force a CPU engine. */
  | 'forced-cpu'
  /** Any other failure to load or run. */
  | 'load-failed';

export interface GpuGuidance {
  issue: GpuIssue;
  /** One sentence: why the GPU is not used. */
  reason: string;
  /** One line: what to install or do (absent when nothing can help or nothing is needed). */
  install?: string;
}

export interface GpuFacts {
  /** The error thrown while importing tfjs-node-gpu or running a test op (absent when it worked). */
  error?: { message?: string; code?: string } | null;
  platform: string;
  arch: string;
  /** Whether an NVIDIA kernel driver was seen (/proc/driver/nvidia/version); undefined when unknown. */
  nvidiaDriver?: boolean;
}

const installLine = `On Linux x64 with an NVIDIA GPU: install CUDA ${gpuRequirements.cuda} and cuDNN ${gpuRequirements.cudnn}, then run \`npm install ${gpuRequirements.package}\`.`;

/** The first line of an error message, shortened. */
function firstLine(message: string): string {
  const line = message.split('\n').find((part) => part.trim() !== '') ?? message;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line.trim();
}

/** Classifies why tfjs-node-gpu is not usable here, from its load error and the machine. */
export function classifyGpuFailure(facts: GpuFacts): GpuGuidance {
  const message = facts.error?.message ?? '';
  const code = facts.error?.code ?? '';
  const supported = facts.platform === 'linux' && facts.arch === 'x64';
  if (!facts.error) return { issue: 'ok', reason: `${gpuRequirements.package} loaded and ran a test op on the GPU.` };
  const missingPackage =
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/i.test(message)) &&
    message.includes(gpuRequirements.package);
  if (!supported) {
    return {
      issue: 'unsupported-platform',
      reason: `${gpuRequirements.package} supports Linux x64 only; this is ${facts.platform} ${facts.arch}.`,
      install:
        facts.platform === 'darwin' || facts.platform === 'win32'
          ? 'No CUDA engine exists for this system: use the native CPU engine instead (`npm install @tensorflow/tfjs-node`).'
          : 'Use the native CPU engine (`npm install @tensorflow/tfjs-node`) or the WebAssembly engine.',
    };
  }
  if (missingPackage) {
    if (facts.nvidiaDriver === false) {
      return {
        issue: 'not-installed',
        reason: `${gpuRequirements.package} is not installed, and no NVIDIA driver was found (the GPU engine needs an NVIDIA GPU).`,
        install: `With an NVIDIA GPU: install its driver, CUDA ${gpuRequirements.cuda} and cuDNN ${gpuRequirements.cudnn}, then run \`npm install ${gpuRequirements.package}\`.`,
      };
    }
    return { issue: 'not-installed', reason: `${gpuRequirements.package} is not installed.`, install: installLine };
  }
  if (/libcuda\.so(\.1)?\b|CUDA driver|cuInit|no CUDA-capable device|CUDA_ERROR_NO_DEVICE|nvidia driver/i.test(message)) {
    return {
      issue: 'no-cuda-driver',
      reason: `No CUDA driver: ${firstLine(message)}`,
      install: `Install the NVIDIA driver for your GPU (it provides libcuda.so.1), then CUDA ${gpuRequirements.cuda} and cuDNN ${gpuRequirements.cudnn}.`,
    };
  }
  if (/libcudnn|cudnn/i.test(message)) {
    return {
      issue: 'wrong-cudnn',
      reason: `cuDNN is missing or the wrong version (${gpuRequirements.package} needs cuDNN ${gpuRequirements.cudnn}): ${firstLine(message)}`,
      install: `Install cuDNN ${gpuRequirements.cudnn} for CUDA ${gpuRequirements.cuda} (libcudnn.so.8) and make sure LD_LIBRARY_PATH finds it.`,
    };
  }
  if (/libcudart|libcublas|libcufft|libcurand|libcusolver|libcusparse|\bCUDA\b.*version|cuda runtime|CUDA/i.test(message)) {
    return {
      issue: 'wrong-cuda',
      reason: `The CUDA runtime is missing or the wrong version (${gpuRequirements.package} needs CUDA ${gpuRequirements.cuda}): ${firstLine(message)}`,
      install: `Install the CUDA ${gpuRequirements.cuda} toolkit libraries (libcudart.so.11.0, libcublas.so.11) and make sure LD_LIBRARY_PATH finds them.`,
    };
  }
  return {
    issue: 'load-failed',
    reason: `${gpuRequirements.package} is installed but failed to load: ${firstLine(message || String(code) || 'unknown error')}`,
    install: `Reinstall it (\`npm rebuild ${gpuRequirements.package}\`) with CUDA ${gpuRequirements.cuda} and cuDNN ${gpuRequirements.cudnn} on the library path.`,
  };
}

/** The guidance shown when the settings force a CPU engine. */
export function forcedCpuGuidance(engine: string): GpuGuidance {
  return {
    issue: 'forced-cpu',
    reason: `The settings force a CPU engine (${engine}): the GPU is ignored.`,
    install: 'Turn off "Force CPU" in Settings to use the GPU when it works.',
  };
}
