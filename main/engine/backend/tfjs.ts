/**
 * The one place the engine gets tfjs from. tfjs-core alone registers no gradients; the
 * @tensorflow/tfjs package registers all of them (and the cpu backend) into the shared
 * registry. (Its deep import `tfjs-core/dist/register_all_gradients` is an ES module that Node
 * would load as a second copy of tfjs-core beside the CommonJS bundle.) PROD silences tfjs's
 * console advice to install tfjs-node: the app reports engines itself.
 */
import { env } from '@tensorflow/tfjs';

env().set('PROD', true);

export * from '@tensorflow/tfjs-core';
