import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['scratch/', 'dist/', 'node_modules/', '.tap/', 'coverage/', 'clients/python/', 'docker/executor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['bin/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // The web console (server/ui/): plain ES modules run by the browser, not by Node, though they
    // sit in server/. Browser globals only, so a Node global (process, Buffer) there is an error;
    // the TypeScript files around them keep their own settings, which no block here widens to them.
    files: ['server/ui/**/*.js'],
    languageOptions: { sourceType: 'module', globals: globals.browser },
  },
);
