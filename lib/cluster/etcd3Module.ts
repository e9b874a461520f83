// The etcd3 client, loaded on first use: an optional peer dependency, so that msgpacknet neither
// requires nor bundles it (etcd3 pulls in @grpc/grpc-js). Internal: its types name etcd3's, which a
// user without etcd3 cannot resolve, so the public declarations never import this file's types.
export type Etcd3Module = typeof import('etcd3');

/** How the module is imported: `import('etcd3')`, or a stand-in in specs. */
export type Etcd3Importer = () => Promise<unknown>;

// Not a literal, so that bundlers leave it alone (etcd3 is Node.js-only and optional).
const ETCD3: string = 'etcd3';
const importEtcd3: Etcd3Importer = () => import(/* webpackIgnore: true */ /* @vite-ignore */ ETCD3);

let loaded: Promise<Etcd3Module> | undefined;

/**
 * The etcd3 module, loaded once with `importer` (tried again after a
 * failure). Rejects with an Error that says how to install it when it is
 * missing or is not etcd3 (no `Etcd3` class).
 */
export function loadEtcd3(importer: Etcd3Importer = importEtcd3): Promise<Etcd3Module> {
  if (importer !== importEtcd3) return load(importer);
  return (loaded ??= load(importer).catch((error: unknown) => {
    loaded = undefined;
    throw error;
  }));
}

async function load(importer: Etcd3Importer): Promise<Etcd3Module> {
  let module: unknown;
  try {
    module = await importer();
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(
      `etcdDiscovery needs the etcd3 package, an optional peer dependency: install it with \`npm install etcd3\` (${detail})`,
      {
        cause: error,
      },
    );
  }
  // etcd3 is CommonJS: Node.js gives its exports as named exports and as `default`.
  const named = module as Partial<Etcd3Module> | null | undefined;
  const fallback = (module as { default?: Partial<Etcd3Module> } | null | undefined)?.default;
  const Etcd3 = named?.Etcd3 ?? fallback?.Etcd3;
  if (typeof Etcd3 !== 'function') {
    throw new Error('etcdDiscovery needs the etcd3 package (npm install etcd3): the module "etcd3" that loaded has no Etcd3 class');
  }
  return { ...fallback, ...named, Etcd3 } as Etcd3Module;
}
