// Mutation testing of the pure logic (`npx mise run mutate`): Stryker mutates these modules and
// runs the unit tests (native ESM through ts-jest, like `npm run test:unit`) against each mutant.
// A score under `break` fails the run; survivors that cannot be killed are listed in
// docs/mutation-testing.md with why they are equivalent.
export default {
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning'],
  jest: {
    projectType: 'custom',
    configFile: 'jest.stryker.config.js',
    enableFindRelatedTests: false,
  },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.stryker.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    'libs/control-plane/src/state-rules.ts',
    'libs/common/src/config.ts',
    'libs/common/src/validation.ts',
    'libs/contracts/src/**/*.ts',
    '!libs/contracts/src/**/*.spec.ts',
    '!libs/contracts/src/index.ts',
    'libs/data-plane/src/planner.ts',
  ],
  coverageAnalysis: 'perTest',
  // A mutant times out (and counts as detected) when its tests run past (initial run time × 1.5 +
  // timeoutMS). Each run starts Jest under --experimental-vm-modules, seconds on a loaded machine: the
  // default 5 s marked mutants of loop-free code (state-rules.ts) as timed out. 30 s leaves timeouts to
  // mutants that really loop, at 30 s each.
  timeoutMS: 30000,
  ignoreStatic: true,
  concurrency: 2,
  // Reruns only test what changed since the last run (reports/stryker-incremental.json).
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  thresholds: { high: 90, low: 80, break: 80 },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'dist-tools', '.data', 'reports', 'e2e/artifacts', 'bench/results', 'coverage'],
  cleanTempDir: 'always',
};
