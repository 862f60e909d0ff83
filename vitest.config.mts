import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "policy/**/*.test.ts"],
    // Pulumi mocks are process-global: every test file runs in its own worker.
    isolate: true,
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
