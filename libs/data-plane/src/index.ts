export * from './connectors/connector.js';
export * from './connectors/connector.registry.js';
export * from './data-plane.module.js';
export * from './execute.step.js';
export * from './intent.steps.js';
export * from './intent.workflow.js';
export * from './planner.js';
export * from './runs.service.js';
