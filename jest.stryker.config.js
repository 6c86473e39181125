// The unit project alone, for Stryker (stryker.config.mjs): only the specs that can reach the mutated modules.
import jestConfig from './jest.config.js';

const { displayName: _name, ...unit } = jestConfig.projects.find((project) => project.displayName === 'unit');

export default {
  ...unit,
  testMatch: ['<rootDir>/libs/{common,contracts,control-plane,data-plane}/**/*.spec.ts', '<rootDir>/apps/ops-cli/src/*.spec.ts'],
};
