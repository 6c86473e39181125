export * from './config.js';
export * from './errors.js';
export * from './exception.filter.js';
export * from './hash.js';
export * from './project.js';
export * from './validation.js';
export * from './ids.js';
