/**
 * A preload (`node --import ./test/support/record-modules.mjs main.js`) that appends the URL of every module
 * the process loads, `import` and `require` alike, one per line, to the file named by `RECORD_MODULES_FILE`.
 * Written as each module loads, so the list is complete up to any moment, whatever way the process ends.
 */
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env.RECORD_MODULES_FILE;
if (file) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(file, `${url}\n`);
      return nextLoad(url, context);
    },
  });
}
