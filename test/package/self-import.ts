// Run by test/package/self-import.test.ts with `npx tsx`: the package's main export, imported by name.
import { Session, col, lit, functions as F } from 'squall';

const session = Session.local();
const df = session.createDataFrame([{ k: 'a', v: 1 }, { k: 'b', v: 2 }, { k: 'a', v: 3 }]);
const rows = await df
  .withColumn('w', col('v').multiply(lit(10)))
  .groupBy('k')
  .agg(F.sum('w').alias('total'))
  .orderBy('k')
  .collect();
console.log(JSON.stringify(rows));
