/**
 * Test helper process for crash.test.ts: appends entries `first…first+count-1` to one log as
 * fast as it can and prints `ack <n> <status> <index>` for each append AFTER it resolved (i.e. after its
 * batch committed). The test SIGKILLs it at random moments.
 *
 * usage: node append-child.ts <sqlite path | postgres url> <signer key> <first> <count>
 */
import { NoteSigner } from '@blindvote/crypto';
import { PostgresLogStorage } from '../storage/postgres.ts';
import { SqliteLogStorage } from '../storage/sqlite.ts';
import { Sequencer } from '../sequencer.ts';
import { crashEntry, crashToken } from './crash-data.ts';

const [target, signerKey, firstArg, countArg] = process.argv.slice(2);
const storage = target!.startsWith('postgres')
  ? await PostgresLogStorage.open({ connectionString: target!, max: 4 })
  : new SqliteLogStorage(target!);
const sequencer = new Sequencer(storage, [new NoteSigner(signerKey!)], { maxBatch: 512 });
await sequencer.createLog('crash', 'board.test/poll/crash');
process.stdout.write('ready\n');

const first = Number(firstArg);
const count = Number(countArg);
let next = first;
const worker = async () => {
  while (next < first + count) {
    const n = next++;
    const result = await sequencer.append('crash', crashEntry(n), crashToken(n));
    process.stdout.write(`ack ${n} ${result.status} ${result.index}\n`);
  }
};
await Promise.all(Array.from({ length: 256 }, worker));
await storage.close();
