/**
 * How the engine changes a function of cql-execution or cql-exec-fhir (./cql-dates, ./cql-execute,
 * ./cql-memo): `make` gets the library's function and returns the one to use instead. Installed once
 * per holder and name, however many copies of our modules run (a test runner's registries load them
 * again; jest shares the libraries across suites): the mark is a registered symbol, and an own
 * property, so a prototype that inherits from a changed one (Query from Expression) is still changed
 * itself. The replacement keeps the library's function as `library`, for the tests that compare with it.
 */
export type Replaced<F> = F & { library?: F };

export function replaceOnce<F extends Function>(holder: object, name: string, make: (library: F) => F): void {
  const mark = Symbol.for(`pa.replaced.${name}`);
  if (Object.prototype.hasOwnProperty.call(holder, mark)) return;
  const target = holder as Record<string, unknown>;
  const library = target[name] as F;
  const replacement = make(library);
  Object.defineProperty(replacement, 'library', { value: library });
  target[name] = replacement;
  Object.defineProperty(holder, mark, { value: true, enumerable: false });
}

/** The library's function behind `fn` (itself when nothing replaced it). */
export function libraryOf<F>(fn: F): F {
  return (fn as Replaced<F>).library ?? fn;
}
