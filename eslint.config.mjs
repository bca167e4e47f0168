// Lint rules chosen for what breaks Temporal code in production: floating promises (lost activity
// results, unhandled rejections) and Node built-ins in workflow code (non-deterministic, rejected by the bundler).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code and everything it imports must stay deterministic and bundle for the workflow sandbox.
    files: ['src/workflows/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Node built-ins are not allowed in workflow code.' })),
            { name: '@aws-sdk/client-kms', message: 'Workflow code calls KMS only through activities.' },
            { name: '@temporalio/activity', message: 'Not available in the workflow sandbox.' },
            { name: '@temporalio/client', message: 'Not available in the workflow sandbox.' },
            { name: '@temporalio/worker', message: 'Not available in the workflow sandbox.' },
          ],
          patterns: [{ group: ['**/activities', '**/activities/*'], allowTypeImports: true, message: 'Use `import type` for activities.' }],
        },
      ],
    },
  },
  // Formatting is Prettier's (`npm run format`); lint keeps only rules about behaviour.
  prettier,
);
