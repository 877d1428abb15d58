// Lint is part of `npm test`: type-aware rules catch floating promises, which in a
// device controller mean unhandled rejections and silently lost events.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'build/**', 'var/**', 'docs/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Production code must never reach into simulators or tests (STYLE.md convention 2).
    files: ['src/**/*.ts', 'devices/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/sim/**', '**/test/**'], message: 'src/ and devices/ never import sim/ or test/' }] }],
      'no-console': 'error',
    },
  },
  {
    // The kernel and the drivers stand below the controller: they never import src/ (issue #9).
    files: ['kernel/**/*.ts', 'devices/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/sim/**', '**/test/**', '**/src/**'], message: 'kernel/ and devices/ never import src/, sim/ or test/' }] }],
      'no-console': 'error',
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
