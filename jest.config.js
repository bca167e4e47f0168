/** Every test talks to real servers (Temporal dev server, KMS emulator), so timeouts are generous. */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 120_000,
  // Most suites wait on timers and servers rather than burn CPU: two in parallel halve the wall time on 2 cores.
  maxWorkers: 2,
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
};
