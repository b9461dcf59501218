import { ServiceError } from '../common/result';

/**
 * One job uses the engine at a time: while a pretraining run trains (or is paused) it holds
 * the slot, and the services that would start other engine work (embedding, fine-tuning) ask
 * the slot first. Shared by the services through createServices, never looked up.
 */
export class TrainerSlot {
  private runId?: number;

  /** The pretraining run that holds the engine, if any. */
  get activeRun(): number | undefined {
    return this.runId;
  }

  /** A pretraining run takes the engine (the pretraining service refuses a second one itself). */
  hold(runId: number): void {
    this.runId = runId;
  }

  /** The run has ended: the engine is free (a stale release of another run is ignored). */
  release(runId: number): void {
    if (this.runId === runId) this.runId = undefined;
  }

  /** Refuses other engine work while a run trains; `then` says what to do once it has finished ("Embed the images"). */
  refuseWhileTraining(then: string): void {
    if (this.runId !== undefined) {
      throw new ServiceError('CONFLICT', `A pretraining run is training: one job uses the engine at a time. ${then} once it has finished, or cancel it first.`);
    }
  }
}
