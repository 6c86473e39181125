export * from './control-plane.module.js';
export * from './ops-auth.js';
export * from './ops.service.js';
export * from './state-rules.js';
