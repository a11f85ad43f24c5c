// Brotli and gzip copies of the text files in dist/, for the server to send when accepted.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const root = new URL('../dist/', import.meta.url).pathname;
const text = /\.(js|mjs|css|html|svg|json|txt|webmanifest)$/;
let n = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (text.test(name)) {
      const data = readFileSync(p);
      if (data.length < 512) continue;
      writeFileSync(`${p}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      writeFileSync(`${p}.gz`, gzipSync(data, { level: 9 }));
      n++;
    }
  }
}
walk(root);
console.log(`precompressed ${n} files`);
