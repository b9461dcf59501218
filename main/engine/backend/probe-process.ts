/**
 * Child-process entry that probes the tfjs engines and sends the report to its parent, so the
 * UI host never loads libtensorflow or CUDA itself. Started by a launcher (main/jobs/launcher.ts)
 * with the requested engine and the wasm engine's thread setting as its arguments.
 */
import { engineNames, type EngineName, type ThreadSetting } from '../../common/engine';
import { parentChannel } from '../../jobs/launcher';
import { probeEngines } from './backend';
import { releaseWebGpu } from './webgpu';

const parent = parentChannel();

const requestedArg = process.argv[2] ?? 'auto';
const requested: EngineName | 'auto' = (engineNames as readonly string[]).includes(requestedArg)
  ? (requestedArg as EngineName)
  : 'auto';

const threadsArg = Number(process.argv[3]);
const threads: ThreadSetting = Number.isInteger(threadsArg) && threadsArg >= 1 ? threadsArg : 'auto';

probeEngines(requested, { threads })
  .then((report) => {
    releaseWebGpu();
    if (parent.available) void parent.send({ ok: true, report }).then(() => process.exit(0));
    else {
      process.stdout.write(JSON.stringify(report) + '\n');
      process.exit(0);
    }
  })
  .catch((error: unknown) => {
    const message = String((error as Error)?.message ?? error);
    if (parent.available) void parent.send({ ok: false, message }).then(() => process.exit(1));
    else {
      process.stderr.write(message + '\n');
      process.exit(1);
    }
  });
