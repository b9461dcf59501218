import fs from 'node:fs';
import { ServiceError } from '../common/result';
import type { BackboneChoice } from '../common/runs';
import type { RunsRepository } from '../store/runs-repository';
import type { AreaHandlers } from './context';

/**
 * The backbone in use: the checkpoint of a pretraining run chosen ("Use this checkpoint") for
 * clusters and fine-tuning. Fine-tuning gets this service from createServices to find the
 * backbone it trains on when none is named.
 */
export class BackboneService {
  constructor(private readonly runs: RunsRepository) {}

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

  handlers(): AreaHandlers<'runUseCheckpoint' | 'backboneGet'> {
    return {
      runUseCheckpoint: ({ runId, step }) => this.choose(runId, step),
      backboneGet: () => this.current(),
    };
  }
}
