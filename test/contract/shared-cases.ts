/**
 * Calls both transports (Electron IPC and the browser host's HTTP) must refuse, so the two
 * contract tests check the very same cases.
 */

/** Names that are not calls of the contract, including prototype keys. */
export const unknownCallNames = [
  'deleteEverything',
  '__proto__',
  'toString',
  'constructor',
  'hasOwnProperty',
] as const;

/** Arguments of settingsSet that the contract's schema refuses. */
export const badSettingsSetArgs: ReadonlyArray<readonly [label: string, args: unknown]> = [
  ['a value outside the enum', { patch: { theme: 'blue' } }],
  ['an unknown key in the patch', { patch: { colour: 'dark' } }],
  ['an extra top-level key', { patch: {}, extra: 1 }],
  ['no patch', {}],
  ['a string instead of an object', 'dark'],
  ['an array instead of an object', [{ patch: {} }]],
];
