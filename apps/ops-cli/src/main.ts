import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { StderrLogger } from './cli.module.js';
import { processIo } from './io.js';
import { runCli } from './program.js';

// Before anything logs (the embedded Postgres, migrations): logs go to stderr, stdout is the command's output.
Logger.overrideLogger(
  new StderrLogger({ logLevels: process.env.LOG_LEVEL === 'debug' ? ['fatal', 'error', 'warn', 'log', 'debug'] : ['fatal', 'error', 'warn'] }),
);

// process.exit once done: a pool or DBOS handle left open must not keep an operator's shell waiting.
// Safe on Linux: stdout/stderr writes to files, pipes and terminals are synchronous there.
runCli(process.argv, processIo).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`ops-cli: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
