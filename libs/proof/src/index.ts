export * from './health.controller.js';
export * from './proof.module.js';
