// The workflow bundle's entry point: every workflow the worker registers is exported from here.
export { decommissionCustomKeyStore } from './entry';
