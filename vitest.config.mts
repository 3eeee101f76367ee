import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        // Each file in its own process: Pulumi's mocks and runtime settings are process-global.
        pool: "forks",
        testTimeout: 60_000,
        hookTimeout: 120_000,
        // End-to-end files share one lab and one machine; they must not run at the same time.
        fileParallelism: process.env.DOCKER_OVERLAY_SERIAL === "1" ? false : true,
    },
});
