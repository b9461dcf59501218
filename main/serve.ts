/** Entry of `npm run serve`: browser mode only. Accepts the options of `jigclu serve`. */
import { runCli } from './cli/program';

const rest = process.argv.slice(2);
const globalOptions: string[] = [];
const serveOptions: string[] = [];
for (let i = 0; i < rest.length; i += 1) {
  const arg = rest[i] ?? '';
  const target = arg.startsWith('--data-dir') ? globalOptions : serveOptions;
  target.push(arg);
  if (!arg.includes('=') && (arg === '--data-dir' || arg === '--port') && i + 1 < rest.length) target.push(rest[++i] ?? '');
}
void runCli([process.argv[0] ?? 'node', 'jigclu', ...globalOptions, 'serve', ...serveOptions]);
