/**
 * The production-stack test (opt-in, `npm run test:production-stack`): the repository's jest settings without
 * the shared dev server of globalSetup (the test starts a Temporal Server of its own), one suite at a time.
 */
const base = require('../../jest.config.js');

const { globalSetup: _setup, globalTeardown: _teardown, ...rest } = base;
module.exports = {
  ...rest,
  rootDir: '../..',
  roots: ['<rootDir>/test/production'],
  maxWorkers: 1,
  testTimeout: 1_500_000,
};
