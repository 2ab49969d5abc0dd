// A run kept in the browser's IndexedDB: the RunStore (./io.ts) of the tsgrad page, so a run
// survives a closed tab and continues with Resume. Database `tsgrad` (through the `idb` library):
//   folders  key [run, 'checkpoint' | 'best' | 'final'] → the folder's files, as `npm run train`
//            writes them in --out (./checkpoint_files.ts, ../gpt2/hf_files.ts)
//   metrics  key [run, step, kind] → a MetricsRecord; kind 0 is the evaluation after `step`
//            steps, 1 a budgeted run's plan made before step `step`, 2 the record of step
//            `step`, so the keys sort as the run wrote them
// A run's name is its preset's: the page keeps one run per preset.
// Promise: a checkpoint is replaced in one transaction, so until saveCheckpoint resolves
// latestCheckpoint finds the previous one, whatever happens to the tab; a resume keeps the
// metrics made before its step (./metrics.ts's recordsBefore).
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { GPT2Model } from '../gpt2/model.ts';
import { modelToFiles, type Files } from '../gpt2/hf_files.ts';
import { checkpointFromFiles, checkpointToFiles } from './checkpoint_files.ts';
import type { Checkpoint, MetricsSink, RunStore, SavedCheckpoint } from './io.ts';
import type { MetricsRecord } from './metrics.ts';

/** The folders a run keeps. */
export type Folder = 'checkpoint' | 'best' | 'final';
const FOLDERS: Folder[] = ['checkpoint', 'best', 'final'];

interface Schema extends DBSchema {
  folders: { key: [string, Folder]; value: Files };
  metrics: { key: [string, number, number]; value: MetricsRecord };
}

// IndexedDB's key ranges (a global of every browser; this file is typed without the DOM)
declare const IDBKeyRange: { bound(lower: unknown[], upper: unknown[]): never };
/** Every key of `run` in either store: [run] sorts before all of them and [run, []] after (an array sorts after every number and string). */
const wholeRun = (run: string) => IDBKeyRange.bound([run], [run, []]);

let database: Promise<IDBPDatabase<Schema>> | null = null;
function db(): Promise<IDBPDatabase<Schema>> {
  database ??= openDB<Schema>('tsgrad', 1, {
    upgrade(d) {
      d.createObjectStore('folders');
      d.createObjectStore('metrics');
    },
  });
  return database;
}

const metricsKey = (run: string, r: MetricsRecord): [string, number, number] => [run, r.step, 'val_loss' in r ? 0 : 'planned_steps' in r ? 1 : 2];

export class IndexedDBRunStore implements RunStore {
  readonly name: string;
  readonly checkpointName: string;

  constructor(readonly run: string) {
    this.name = `this browser's storage (run ${run})`;
    this.checkpointName = `${this.name}/checkpoint`;
  }

  /** A folder's files, or null when the run has none. */
  async folder(which: Folder): Promise<Files | null> {
    return (await (await db()).get('folders', [this.run, which])) ?? null;
  }

  /** Puts a folder's files in place of the run's (a checkpoint opened from a download). */
  async putFolder(which: Folder, files: Files): Promise<void> {
    await (await db()).put('folders', files, [this.run, which]);
  }

  /** The run's metrics, in order. */
  async records(): Promise<MetricsRecord[]> {
    return (await db()).getAll('metrics', wholeRun(this.run));
  }

  async outputs(): Promise<string[]> {
    const d = await db();
    const found: string[] = [];
    for (const which of FOLDERS) if ((await d.getKey('folders', [this.run, which])) !== undefined) found.push(which);
    if ((await d.count('metrics', wholeRun(this.run))) > 0) found.push('metrics');
    return found;
  }

  async clear(): Promise<void> {
    const tx = (await db()).transaction(['folders', 'metrics'], 'readwrite');
    await Promise.all([tx.objectStore('folders').delete(wholeRun(this.run)), tx.objectStore('metrics').delete(wholeRun(this.run)), tx.done]);
  }

  async latestCheckpoint(): Promise<SavedCheckpoint | null> {
    const files = await this.folder('checkpoint');
    return files === null ? null : checkpointFromFiles(files, this.checkpointName);
  }

  async saveCheckpoint(checkpoint: Checkpoint): Promise<string> {
    await this.putFolder('checkpoint', await checkpointToFiles(checkpoint));
    return this.checkpointName;
  }

  async saveModel(which: 'best' | 'final', model: GPT2Model): Promise<void> {
    await this.putFolder(which, await modelToFiles(model));
  }

  async openMetrics(fromStep: number): Promise<MetricsSink> {
    const run = this.run;
    // what recordsBefore(fromStep) drops: step records from fromStep on, evaluations after it
    await (await db()).delete('metrics', IDBKeyRange.bound([run, fromStep, 2], [run, []]));
    return {
      write: async (record) => {
        await (await db()).put('metrics', record, metricsKey(run, record));
      },
      finish: async () => {},
    };
  }
}
