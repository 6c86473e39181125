export * from './database.module.js';
export * from './databases.js';
export * from './embedded.js';
export * from './migrator.js';
export * from './pool.js';
export * from './schema.js';
