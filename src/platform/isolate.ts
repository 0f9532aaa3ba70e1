/**
 * @module platform/isolate
 * Per-isolate state, typed and owned by the module that uses it. A module declares its state once,
 * `const jwks = isolateState(() => ({ … }))`, and reads it with `jwks(owner)`, where `owner` is an object
 * that lives exactly as long as one Worker instance (its cache factory or its runtime). A test that builds
 * a new runtime gets new state, as a new isolate would; nothing is shared through a string-keyed map.
 */

export function isolateState<T, O extends object = object>(init: (owner: O) => T): (owner: O) => T {
  const states = new WeakMap<O, T>();
  return (owner) => {
    let state = states.get(owner);
    if (state === undefined) {
      state = init(owner);
      states.set(owner, state);
    }
    return state;
  };
}
