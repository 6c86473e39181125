export * from './cursor.js';
export * from './intents.schema.js';
export * from './ops/actions.schema.js';
export * from './ops/list-workflows.schema.js';
export * from './ops/workflow-detail.schema.js';
export * from './ops/workflow-status.js';
export * from './runs.schema.js';
export * from './steps.schema.js';
