import fs from 'node:fs';
import { ServiceError } from '../common/result';
import type { BackboneChoice } from '../common/runs';
import type { RunsRepository } from '../store/runs-repository';
import type { SettingsRepository } from '../store/settings-repository';
import type { AreaHandlers } from './context';

/**
 * The backbone in use: the checkpoint of a pretraining run chosen ("Use this checkpoint") for
 * clusters and fine-tuning. Fine-tuning gets this service from createServices to find the
 * backbone it trains on when none is named.
 */
export class BackboneService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly settings: SettingsRepository,
  ) {}

  /** Chooses one of a run's checkpoints as the backbone for clusters and fine-tuning. */
  choose(runId: number, step: number): BackboneChoice {
    const run = this.runs.get(runId);
    if (!run) throw new ServiceError('NOT_FOUND', `No run with id ${runId}.`);
    const checkpoint = this.runs.checkpoints(runId).find((c) => c.step === step && fs.existsSync(c.file));
    if (!checkpoint) throw new ServiceError('NOT_FOUND', `${run.name} has no checkpoint at step ${step}.`);
    this.runs.chooseBackbone({ runId, step, file: checkpoint.file });
    return this.runs.backbone()!;
  }

  /** The chosen backbone, while its checkpoint file exists. */
  current(): BackboneChoice | null {
    const choice = this.runs.backbone();
    return choice && fs.existsSync(choice.file) ? choice : null;
  }

  /** Remembers the run the guided first run trained on the sample images. */
  markSampleRun(runId: number): void {
    this.settings.setMany({ [sampleRunKey]: runId });
  }

  /** The run the guided first run trained on the sample images, if any. */
  sampleRunId(): number | undefined {
    const value = this.settings.get(sampleRunKey);
    return typeof value === 'number' ? value : undefined;
  }

  /**
   * A run that finished: its newest checkpoint becomes the backbone in use when none is, or
   * when the one in use is the sample run's (a newcomer's own run must not go on being
   * clustered and fine-tuned on the sample backbone). Otherwise its page offers it. Returns
   * the new choice, if it made one.
   */
  adoptFinished(runId: number): BackboneChoice | undefined {
    if (!adoptsFinishedRun(this.current()?.runId, this.sampleRunId(), runId)) return undefined;
    const newest = this.runs
      .checkpoints(runId)
      .filter((checkpoint) => fs.existsSync(checkpoint.file))
      .sort((a, b) => b.step - a.step)[0];
    if (!newest) return undefined;
    this.runs.chooseBackbone({ runId, step: newest.step, file: newest.file });
    return this.runs.backbone() ?? undefined;
  }

  handlers(): AreaHandlers<'runUseCheckpoint' | 'backboneGet'> {
    return {
      runUseCheckpoint: ({ runId, step }) => this.choose(runId, step),
      backboneGet: () => this.current(),
    };
  }
}

/**
 * Whether a run that just finished becomes the backbone in use by itself: when none is in use,
 * or when the one in use is the sample run's and this run is another. A run of your own that is
 * in use is never replaced behind your back: the finished run's page offers itself instead.
 */
export function adoptsFinishedRun(inUseRunId: number | undefined, sampleRunId: number | undefined, finishedRunId: number): boolean {
  if (inUseRunId === undefined) return true;
  return inUseRunId === sampleRunId && finishedRunId !== sampleRunId;
}

/** The settings-table key remembering the first run's sample run (not a user setting). */
const sampleRunKey = 'firstRun.sampleRunId';
