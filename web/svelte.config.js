// Svelte compiler options live in vite.config.ts; this file tells svelte-check to use TypeScript.
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default { preprocess: vitePreprocess() };
