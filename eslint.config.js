// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const PLANES = ['data-plane', 'control-plane', 'proof'];

const TIMER_MODULES = [
  { name: 'node:timers', message: 'No process timers in application code.' },
  { name: 'node:timers/promises', message: 'No process timers in application code.' },
];

/** A plane never imports another plane: not by alias, not by relative path. */
const planeIsolation = PLANES.map((plane) => ({
  files: [`libs/${plane}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: TIMER_MODULES,
        patterns: PLANES.filter((other) => other !== plane).flatMap((other) => [
          {
            group: [`\\#${other}`, `\\#${other}/*`],
            message: `${plane} must not import ${other}: share code through libs/common, contracts, db, dbos or runs`,
          },
          {
            group: [`**/${other}/**`, `**/${other}`],
            message: `${plane} must not import ${other}: share code through libs/common, contracts, db, dbos or runs`,
          },
        ]),
      },
    ],
  },
}));

/** What the planes share (libs/common, contracts, db, dbos, runs) imports none of them. */
const sharedIsolation = {
  files: ['libs/{common,contracts,db,dbos,runs}/**/*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: TIMER_MODULES,
        patterns: PLANES.flatMap((plane) => [
          { group: [`\\#${plane}`, `\\#${plane}/*`], message: `a shared lib must not import ${plane}: the planes call it, not the other way round` },
          { group: [`**/${plane}/**`, `**/${plane}`], message: `a shared lib must not import ${plane}: the planes call it, not the other way round` },
        ]),
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'dist-tools/**', 'node_modules/**', '.data/**', 'coverage/**', 'bench/results/**', '.stryker-tmp/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Time primitives: durable sleep (DBOS.sleep) or a DBOS schedule, never a process timer.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use DBOS.sleep (durable) or a DBOS schedule; no process timers in application code.' },
        { name: 'setInterval', message: 'Use a DBOS schedule (DBOS.applySchedules); no process timers in application code.' },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:timers', message: 'No process timers in application code.' },
            { name: 'node:timers/promises', message: 'No process timers in application code.' },
          ],
        },
      ],
    },
  },
  ...planeIsolation,
  sharedIsolation,
  {
    // Tests and test support talk to untyped JSON bodies.
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'e2e/**/*.ts', 'tools/harness/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', globalThis: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  prettier,
);
