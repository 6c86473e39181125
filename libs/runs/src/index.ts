export * from './receipts.repository.js';
export * from './runs.module.js';
export * from './runs.repository.js';
