// Reading a model's bytes from where its URI says: a local path, `file://`, or `s3://` (through the project's
// FileStore, so the same endpoints and credentials as the data). Nothing is ever downloaded from elsewhere.
import { DataError } from '../../types/errors.ts';
import { localPath, storeFor } from '../../io/file-store.ts';

export async function readModelBytes(uri: string): Promise<Uint8Array> {
  if (!uri) throw new DataError('no model URI given (set modelUri to a local path, file:// or s3:// URI of an .onnx file)');
  const store = storeFor(uri);
  const path = store.remote ? uri : localPath(uri);
  const info = await store.stat(path);
  if (!info) throw new DataError(`model '${uri}' does not exist`);
  if (info.kind !== 'file') throw new DataError(`model '${uri}' is a directory; modelUri must name an .onnx file`);
  return store.readRange(path, 0, info.size);
}
