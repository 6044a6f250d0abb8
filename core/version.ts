// mcpgate's version, as package.json says (test/core/version.test.ts keeps them equal): reported in
// traces (service.version). A constant, not a read of package.json: compiled code runs from dist/,
// where no package.json is beside it.
export const VERSION = '0.1.0'
