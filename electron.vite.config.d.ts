/**
 * One build for the three bundles. `main` holds every Node entry point (Electron's main
 * process, the CLI, browser mode, `npm start`'s launcher and the engine probe), so they share
 * chunks of main/ and find each other beside them in out/main. Dependencies stay external
 * (node_modules); the preload is bundled whole as CommonJS, as sandboxed preloads require.
 */
declare const _default: import("electron-vite").UserConfig;
export default _default;
