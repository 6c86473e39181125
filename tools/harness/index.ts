/**
 * The harness kit: what the e2e tests, the chaos soak, the benchmark and the OTLP smoke need to drive
 * the built service from outside. Free ports and the service process (service.ts), throwaway
 * databases (database.ts), wall-clock waits (clock.ts), the built ops CLI (cli.ts).
 */
export * from './cli.js';
export * from './clock.js';
export * from './database.js';
export * from './service.js';
