// Where an ONNX stage reads its model from. A stage saved with `save()` carries a copy of the model file in its
// own directory (see persistence.ts), and a loaded stage reads that copy: the saved pipeline is then complete on
// its own — a worker that can read the stage's S3 prefix needs nothing else — and predicts the same even if the
// original file changes or disappears. The cost is one copy of the model per save (4.75 MB for PP-OCRv4's
// detector); a multi-GB model would rather be referenced, which a later option can allow.
import * as path from 'node:path';
import { isRemotePath, localPath } from '../../io/file-store.ts';

export interface SavedModelCopy {
  /** The modelUri the stage had when it was saved. */
  readonly savedFrom: string;
  /** Where the copy is. */
  readonly location: string;
}

export const MODEL_FILE = 'model.onnx';

/** The location to read for `modelUri`: the saved copy while modelUri is still the one saved, else modelUri itself. */
export function modelLocation(modelUri: string, copy: SavedModelCopy | null): string {
  if (copy && copy.savedFrom === modelUri) return copy.location;
  // Relative local paths are resolved here, in the process that reads them.
  return isRemotePath(modelUri) ? modelUri : path.resolve(localPath(modelUri));
}
