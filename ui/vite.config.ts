import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// `--mode mock` builds the same UI with the Tauri IPC mocked (src/lib/mock.ts), for tests in a
// plain browser. The real build talks only to the Tauri commands.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 600 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
