// s3rver's filesystem store writes an object in place (truncate, then stream), so a GET that arrives during a
// PUT that replaces an object can read a truncated body — S3 never shows a partial object. This makes its
// putObject write to a temporary file and rename it over the object (atomic on one filesystem), as S3 behaves,
// and its getObject take the length from the file it reads: it stat'ed the path, then opened it, so a rename in
// between served the new body cut to the old length (a torn status.json under concurrent jobs).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly metadata: unknown;
  readonly content: Buffer | NodeJS.ReadableStream;
}

interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<unknown>;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
}

let patched = false;

export function makeS3rverPutsAtomic(): void {
  if (patched) return;
  patched = true;
  const require = createRequire(import.meta.url);
  const Store = require('s3rver/lib/stores/filesystem.js') as { prototype: FilesystemStore };
  Store.prototype.putObject = async function putObject(this: FilesystemStore, object: StoredObject) {
    const target = this.getResourcePath(object.bucket, object.key, 'object');
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${crypto.randomBytes(6).toString('hex')}.tmp`;
    const md5 = crypto.createHash('md5');
    let size = 0;
    try {
      if (Buffer.isBuffer(object.content)) {
        md5.update(object.content);
        size = object.content.length;
        await fsp.writeFile(tmp, object.content);
      } else {
        const count = new Transform({
          transform(chunk: Buffer, _enc, done) {
            md5.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        });
        await pipeline(object.content, count, fs.createWriteStream(tmp));
      }
      await fsp.rename(tmp, target);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    const digest = md5.digest('hex');
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };
  const S3Object = require('s3rver/lib/models/object.js') as new (bucket: string, key: string, content: NodeJS.ReadableStream | null, metadata: Record<string, string>) => { range?: { start: number; end: number } };
  // The same as s3rver's getObject, but the body and its length come from one open file.
  Store.prototype.getObject = async function getObject(this: FilesystemStore, bucket: string, key: string, options?: { start?: number; end?: number }) {
    let file: fsp.FileHandle;
    try {
      file = await fsp.open(this.getResourcePath(bucket, key, 'object'), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let stream: NodeJS.ReadableStream | null = null;
    try {
      const { size } = await file.stat();
      const metadata = { ...(await this.getMetadata(bucket, key)), 'content-length': String(size) };
      const lastByte = Math.max(0, size - 1);
      const range = { start: options?.start ?? 0, end: Math.min(options?.end ?? Infinity, lastByte) };
      const ranged = options !== undefined && (options.start !== undefined || options.end !== undefined);
      // An unsatisfiable range gets no body, as in s3rver.
      if (range.start >= 0 && range.start <= range.end) stream = file.createReadStream({ start: range.start, end: range.end });
      const object = new S3Object(bucket, key, stream, metadata);
      if (ranged) object.range = range;
      return object;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    } finally {
      // The stream closes the file when it ends; without one it is closed here.
      if (!stream) await file.close();
    }
  };
}
