/**
 * The page of the desktop app's hidden WebGPU compute window (electron/gpu-window.ts): waits for
 * the one message port its preload hands over (window.postMessage with the port transferred, as
 * Electron documents for context-isolated pages), then serves the compute host's protocol on it
 * (main/gpu-host/host.ts) with this page's tfjs and Chromium's navigator.gpu. The tests drive the
 * same page in Playwright's Chromium the same way.
 */
import * as tf from '../main/engine/backend/tfjs';
import { serveGpuHost } from '../main/gpu-host/host';
import { gpuHostPortMessage } from '../main/gpu-host/protocol';

let served = false;

window.addEventListener('message', (event: MessageEvent) => {
  // Only this window itself (the preload runs in it) with our message and a port; only once.
  if (served || event.source !== window || event.origin !== window.location.origin || event.data !== gpuHostPortMessage) return;
  const port = event.ports[0];
  if (!port) return;
  served = true;
  serveGpuHost(
    {
      postMessage: (message) => port.postMessage(message),
      onMessage: (listener) => {
        port.onmessage = (message) => listener(message.data);
      },
      close: () => port.close(),
    },
    { tf, gpu: () => navigator.gpu },
  );
  document.title = 'JigClu Studio compute (connected)';
});
