/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

const isVitest = Boolean(process.env.VITEST);

export default defineConfig({
  plugins: [svelte()],
  // Relative asset URLs: `dist/` is served by the engine at `/` and loaded by Tauri.
  base: "./",
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
  },
  // Svelte 5's `mount` needs the browser build of svelte under Vitest.
  resolve: isVitest ? { conditions: ["browser"] } : undefined,
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["./src/test/setup.ts"],
  },
});
