// File scans: Parquet (only the needed columns, only row groups whose statistics can match the scan's pushed
// filters and, where the file has a page index, only their pages that can), CSV, NDJSON and image files.
import type * as arrow from 'apache-arrow';
import { type Expr, exprToString } from '../expr/expr.ts';
import { compilePredicate } from '../expr/compile.ts';
import { columnIndices } from '../optimizer/plan-utils.ts';
import { type Schema, resolveField, schema as makeSchema } from '../types/schema.ts';
import type { ScanSource } from '../plan/logical-plan.ts';
import { DEFAULT_PARQUET_BATCH_SIZE, type PageFilter, type ParquetScanMetrics, type RowGroupInfo, scanParquet } from '../io/parquet-reader.ts';
import type { ScanConjunct } from '../io/parquet/row-filter.ts';
import { type FileSplit, rowGroupInSplits } from '../io/file-split.ts';
import { scanCsv } from '../io/csv-reader.ts';
import { scanJson } from '../io/json-reader.ts';
import { type ListedImage, scanImages } from '../io/images/read-images.ts';
import { prunableColumns, rowGroupMightMatch } from './row-group-pruning.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';

/** The operator's name for a file format, as plans print it. */
export function fileScanName(format: FileFormat): string {
  switch (format) {
    case 'parquet':
      return 'ParquetScan';
    case 'csv':
      return 'CsvScan';
    case 'json':
      return 'JsonScan';
    case 'images':
      return 'ImageScan';
  }
}

type FileFormat = Exclude<ScanSource, { format: 'memory' }>['format'];

/** `files` (some of the source's paths) with the size and version the source listed for each. */
function listedImages(source: Extract<ScanSource, { format: 'images' }>, files: readonly string[]): ListedImage[] {
  const index = new Map(source.paths.map((p, i) => [p, i]));
  return files.map((path) => {
    const i = index.get(path)!;
    return { path, size: source.sizes[i]!, version: source.versions[i]! };
  });
}

/**
 * The scan's filters as conjuncts the Parquet decoder evaluates, each compiled over just the columns it reads.
 * They are implied by the filter above the scan (pushFiltersIntoScans only weakens it), so dropping the rows
 * they reject in the scan drops only rows the filter would.
 */
export function scanConjuncts(filters: readonly Expr[], fileSchema: Schema): ScanConjunct[] {
  return filters.flatMap((f) => {
    // A filter whose columns do not resolve is left to the filter above.
    const read = columnIndices(f, fileSchema);
    if (!read || read.size === 0) return [];
    const fields = fileSchema.fields.filter((_, i) => read.has(i));
    const predicate = compilePredicate(f, makeSchema(fields));
    return [{ columns: fields.map((x) => x.name), select: (batch: arrow.RecordBatch) => predicate.select(batch), key: exprToString(f) }];
  });
}

export class FileScanExec implements PhysicalOperator {
  readonly name: string;
  readonly children: readonly PhysicalOperator[] = [];
  readonly schema: Schema;

  constructor(
    readonly source: Exclude<ScanSource, { format: 'memory' }>,
    readonly fileSchema: Schema,
    readonly projection: readonly string[] | null,
    readonly filters: readonly Expr[],
    /** This task's share of the files; null reads all of them. */
    readonly splits: readonly FileSplit[] | null = null,
  ) {
    this.name = fileScanName(source.format);
    this.conjuncts = source.format === 'parquet' ? scanConjuncts(filters, fileSchema) : [];
    this.schema =
      projection === null ? fileSchema : makeSchema(projection.map((n) => fileSchema.fields[resolveField(fileSchema, n)]!));
  }

  /**
   * Set by the operator above when it consumes every batch before asking for the next and keeps nothing of it
   * (an aggregation over filters and projections): the decoder may then reuse the batch's buffers.
   */
  consumedInPlace = false;

  private readonly conjuncts: readonly ScanConjunct[];

  /** What the Parquet scan skipped and dropped, over every execution of this operator. */
  readonly metrics: ParquetScanMetrics = { pagesSkipped: 0, rowsSkipped: 0, rowsFiltered: 0 };

  /** The files this scan reads, in source order. */
  private files(): readonly string[] {
    if (this.splits === null) return this.source.paths;
    const chosen = new Set(this.splits.map((s) => s.path));
    return this.source.paths.filter((p) => chosen.has(p));
  }

  describe(): string {
    const files = this.source.paths.length === 1 ? this.source.paths[0]! : `${this.source.paths.length} files`;
    const cols = this.schema.fields.map((f) => f.name).join(', ');
    const filters = this.filters.length ? ` pushed=[${this.filters.map(exprToString).join(', ')}]` : '';
    return `${files} [${cols}]${filters}`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    const columns = this.projection;
    switch (this.source.format) {
      case 'parquet': {
        const filters = this.filters;
        const splits = this.splits;
        const statsMatch = (rg: RowGroupInfo) => filters.every((f) => rowGroupMightMatch(f, rg.columns, this.fileSchema));
        // The same predicate over the page index's statistics skips pages inside the row groups kept.
        const pageFilter: PageFilter | undefined = filters.length
          ? {
              columns: [...new Set(filters.flatMap(prunableColumns))],
              mightMatch: (stats) => filters.every((f) => rowGroupMightMatch(f, stats, this.fileSchema)),
            }
          : undefined;
        // One file at a time, so the row-group choice can depend on which file (this task's splits).
        for (const file of this.files()) {
          const batches = scanParquet([file], {
            columns,
            schema: this.fileSchema,
            reuseBuffers: this.consumedInPlace,
            metrics: this.metrics,
            ...(pageFilter ? { pageFilter } : {}),
            ...(this.conjuncts.length && process.env.SQUALL_SCAN_ROW_FILTER !== '0' ? { rowFilter: this.conjuncts } : {}),
            batchSize: Math.max(ctx.batchSize, DEFAULT_PARQUET_BATCH_SIZE),
            rowGroups:
              splits === null
                ? filters.length
                  ? statsMatch
                  : undefined
                : (rg) => rowGroupInSplits(file, rg, splits) && statsMatch(rg),
          });
          for await (const b of batches) {
            checkCancelled(ctx);
            yield b;
          }
        }
        return;
      }
      case 'csv':
        for await (const b of scanCsv(this.files(), this.fileSchema, this.source.options, columns, ctx.batchSize)) {
          checkCancelled(ctx);
          yield b;
        }
        return;
      case 'json':
        for await (const b of scanJson(this.files(), this.fileSchema, columns, ctx.batchSize)) {
          checkCancelled(ctx);
          yield b;
        }
        return;
      case 'images':
        // Batches of the source's imagesPerBatch rather than ctx.batchSize: one image row can be megabytes.
        for await (const b of scanImages(listedImages(this.source, this.files()), this.source.options, columns)) {
          checkCancelled(ctx);
          yield b;
        }
        return;
    }
  }
}
