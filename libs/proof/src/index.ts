export * from './health.controller.js';
export * from './ops-tick.workflow.js';
export * from './proof.module.js';
export * from './invariants/invariants.js';
