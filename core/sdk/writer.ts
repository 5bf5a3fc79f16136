// df.write: Parquet, CSV and NDJSON outputs, committed atomically (see core/io/writers.ts).
import { AnalysisError } from '../types/errors.ts';
import { type WriteFormat, type WriteMode, writeBatches } from '../io/writers.ts';
import type { DataFrame } from './dataframe.ts';

const MODES: readonly WriteMode[] = ['error', 'overwrite', 'append', 'ignore'];

export class DataFrameWriter {
  constructor(
    private readonly df: DataFrame,
    private readonly saveMode: WriteMode = 'error',
    private readonly opts: Readonly<Record<string, string | number | boolean>> = {},
  ) {}

  /** error (default; also 'errorifexists'), overwrite, append or ignore. */
  mode(m: WriteMode | 'errorifexists'): DataFrameWriter {
    const mode = m === 'errorifexists' ? 'error' : m;
    if (!MODES.includes(mode)) throw new AnalysisError(`unknown save mode '${m}'; use one of ${MODES.join(', ')}`);
    return new DataFrameWriter(this.df, mode, this.opts);
  }

  option(key: string, value: string | number | boolean): DataFrameWriter {
    return new DataFrameWriter(this.df, this.saveMode, { ...this.opts, [key]: value });
  }

  parquet(path: string): Promise<void> {
    return this.save(path, 'parquet');
  }

  csv(path: string): Promise<void> {
    return this.save(path, 'csv');
  }

  json(path: string): Promise<void> {
    return this.save(path, 'json');
  }

  async save(path: string, format: WriteFormat): Promise<void> {
    const batches = this.df.session.executeStream(this.df.plan);
    await writeBatches(batches, this.df.schema, path, format, this.saveMode, this.opts);
  }
}
