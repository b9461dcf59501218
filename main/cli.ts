#!/usr/bin/env node
/** Entry of the `jigclu` command (package.json bin). */
import { runCli } from './cli/program';

void runCli(process.argv);
