export * from './dbos.module.js';
export * from './dbos.service.js';
export * from './queues.js';
export * from './steps.js';
export * from './system-database.js';
export * from './app-step.js';
export * from './admission.js';
export * from './cancellable-sleep.js';
