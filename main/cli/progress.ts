import cliProgress from 'cli-progress';
import { formatEta, type TaskInfo } from '../common/tasks';
import type { EventHub } from '../services/event-hub';
import type { TaskRegistry } from '../services/tasks';

/**
 * Shows a task as a progress bar (counts, rate, ETA, latest message) until it ends; Ctrl+C
 * cancels it (a second Ctrl+C exits at once). Resolves with the final task info.
 */
export async function followTask(hub: EventHub, tasks: TaskRegistry, started: TaskInfo, stream: NodeJS.WriteStream = process.stderr): Promise<TaskInfo> {
  const interactive = Boolean(stream.isTTY);
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${started.title} |{bar}| {value}/{total} ${started.unit} · {rate} · ETA {eta_text} · {message}`,
      hideCursor: interactive,
      noTTYOutput: !interactive,
      notTTYSchedule: 5000,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(started.total ?? 0, started.done, { rate: '…', eta_text: '—', message: '' });
  const payload = (info: TaskInfo) => ({
    rate: info.rate !== undefined ? `${info.rate.toFixed(info.rate < 10 ? 1 : 0)} ${info.unit}/s` : '…',
    eta_text: formatEta(info.etaSeconds),
    message: info.message ?? '',
  });
  const unsubscribe = hub.subscribe((name, info) => {
    if (name !== 'task' || (info as TaskInfo).id !== started.id) return;
    const task = info as TaskInfo;
    if (task.total !== undefined) bar.setTotal(task.total);
    bar.update(task.done, payload(task));
  });
  let interrupts = 0;
  const onInterrupt = (): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    stream.write(`\nCancelling ${started.title.toLowerCase()}… (Ctrl+C again to quit at once)\n`);
    tasks.cancel(started.id);
  };
  process.on('SIGINT', onInterrupt);
  try {
    const final = await tasks.settled(started.id);
    bar.update(final.done, payload(final));
    bar.stop();
    return final;
  } finally {
    unsubscribe();
    process.off('SIGINT', onInterrupt);
  }
}
