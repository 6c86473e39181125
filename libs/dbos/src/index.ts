export * from './dbos.module.js';
export * from './dbos.service.js';
export * from './queues.js';
