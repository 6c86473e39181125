import { Logger } from '@nestjs/common';

type DLogger = NonNullable<Parameters<typeof import('@dbos-inc/dbos-sdk').DBOS.setConfig>[0]['logger']>;

function text(entry: unknown): string {
  if (entry instanceof Error) return entry.message;
  return typeof entry === 'string' ? entry : JSON.stringify(entry);
}

/**
 * DBOS's log lines through Nest's logger: one format, one LOG_LEVEL. DBOS reports a workflow that
 * ends in ERROR at error level; for this service that is a run failing (a business event the run
 * records), so it is logged as a warning, with the stack only at debug level.
 */
export function nestDbosLogger(): DLogger {
  const logger = new Logger('DBOS');
  return {
    info: (entry) => logger.log(text(entry)),
    debug: (entry) => logger.debug(text(entry)),
    warn: (entry) => logger.warn(text(entry)),
    error: (entry) => {
      logger.warn(text(entry));
      if (entry instanceof Error && entry.stack) logger.debug(entry.stack);
    },
  };
}
