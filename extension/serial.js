// One writer for chrome.storage: every read-modify-write of the worker's
// storage goes through serial(), one at a time.
let chain = Promise.resolve();

export function serial(fn) {
  const run = chain.then(fn, fn);
  chain = run.catch(() => {});
  return run;
}
