// The unit project alone, for Stryker (stryker.config.mjs): only the specs that can reach the mutated modules.
// STRYKER_SPECS (comma-separated paths or globs) narrows it further when one module is mutated on its own,
// e.g. STRYKER_SPECS=libs/common/src/config.spec.ts npx stryker run --mutate libs/common/src/config.ts
import jestConfig from './jest.config.js';

const { displayName: _name, ...unit } = jestConfig.projects.find((project) => project.displayName === 'unit');

const narrowed = (process.env.STRYKER_SPECS ?? '')
  .split(',')
  .map((spec) => spec.trim())
  .filter(Boolean)
  .map((spec) => `<rootDir>/${spec}`);

export default {
  ...unit,
  testMatch:
    narrowed.length > 0 ? narrowed : ['<rootDir>/libs/{common,contracts,control-plane,data-plane}/**/*.spec.ts', '<rootDir>/apps/ops-cli/src/*.spec.ts'],
};
