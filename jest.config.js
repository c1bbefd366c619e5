/** Jest runs the TypeScript sources directly through ts-jest. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testTimeout: 60000,
  // The shipped rules compiled beside their sources, as the function reads them (globalSetup.ts).
  globalSetup: "<rootDir>/test/globalSetup.ts",
};
