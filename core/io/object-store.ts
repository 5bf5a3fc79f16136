// Where objects live: the `ObjectStore` contract, its S3 and local-file implementations, ranged reads with
// coalescing, and the AWS endpoint configuration. Import from here; the folder holds one part per file.
import { LocalObjectStore } from './object-store/local-object-store.ts';
import { S3ObjectStore } from './object-store/s3-object-store.ts';
import { type ObjectStore, parseObjectUri } from './object-store/object-store.ts';

export * from './object-store/object-store.ts';
export * from './object-store/ranged-reads.ts';
export * from './object-store/retry.ts';
export * from './object-store/aws-config.ts';
export { LocalObjectStore } from './object-store/local-object-store.ts';
export { S3ObjectStore, type S3ObjectStoreOptions, type S3StoreStats, DEFAULT_PART_SIZE } from './object-store/s3-object-store.ts';

/** Chooses the store for a URI: `s3://` goes to `s3` (created from the environment on first use). */
export class ObjectStores {
  #s3: S3ObjectStore | undefined;
  readonly local: LocalObjectStore = new LocalObjectStore();

  constructor(s3?: S3ObjectStore) {
    this.#s3 = s3;
  }

  get s3(): S3ObjectStore {
    return (this.#s3 ??= S3ObjectStore.fromEnv());
  }

  for(uri: string): ObjectStore {
    return parseObjectUri(uri).scheme === 's3' ? this.s3 : this.local;
  }

  destroy(): void {
    this.#s3?.destroy();
  }
}
