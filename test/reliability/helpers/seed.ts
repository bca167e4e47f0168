// The reliability suites seed through the same helper as the workflow tests.
export { seedStoreVia, type SeededStore, type SeedOptions } from '../../support/scenario';
