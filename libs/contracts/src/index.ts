export * from './cursor.js';
export * from './intents.schema.js';
export * from './runs.schema.js';
