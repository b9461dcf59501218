import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, bench, describe } from 'vitest';
import type { EngineReport } from '../../main/common/engine';
import { startCore } from '../../main/core';
import { startBrowserHost } from '../../main/server/host';
import { dispatch } from '../../main/services/dispatch';

/**
 * The cost of one contract call: direct dispatch (the baseline, what the IPC router adds on
 * top of) against the browser-mode HTTP transport, measured in the same run. vitest prints
 * each as calls/s and the ratio between them.
 */
const report: EngineReport = {
  chosen: 'cpu',
  requested: 'auto',
  candidates: [{ name: 'cpu', available: true, reason: 'bench' }],
  probeMs: 0,
};
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-bench-'));
const core = startCore({ dataDir, mode: 'browser', probeEngines: async () => report });
const host = await startBrowserHost({ handlers: core.handlers, hub: core.hub });

afterAll(async () => {
  await host.close();
  core.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('settingsGet round trip', () => {
  bench('direct dispatch (baseline)', async () => {
    await dispatch(core.handlers, 'settingsGet', {});
  });
  bench('HTTP transport (browser mode)', async () => {
    const response = await fetch(`http://127.0.0.1:${host.port}/api/call/settingsGet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-jigclu-token': host.token },
      body: '{"args":{}}',
    });
    await response.json();
  });
});
