// Preloaded into a process under test (NODE_OPTIONS=--import=<this file>, see loadedModulesEnv in
// processes.ts): on SIGUSR2 it writes one stdout line, {"loadedModules":{"builtins":[…],"files":[…]}},
// the Node built-in modules (`tls`, `internal/http2/core`, …) and the files (file: URLs) the process has
// loaded so far.
import { registerHooks } from 'node:module';

const files = [];
registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) files.push(url);
    return nextLoad(url, context);
  },
});
process.on('SIGUSR2', () => {
  const builtins = process.moduleLoadList
    .filter((m) => m.startsWith('NativeModule '))
    .map((m) => m.slice('NativeModule '.length));
  process.stdout.write(`${JSON.stringify({ loadedModules: { builtins, files } })}\n`);
});
