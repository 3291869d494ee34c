import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { flagTable, ringlbProgram, spliceTable } from './flag-table.js';

/** `npm run docs:flags`: writes docs/configuration.md's flag table from the CLI's option definitions. */
const DOC = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));
const table = flagTable(await ringlbProgram());
const before = readFileSync(DOC, 'utf8');
const after = spliceTable(before, table);
writeFileSync(DOC, after);
process.stdout.write(
  `${after === before ? 'unchanged' : 'updated'}: docs/configuration.md (${table.split('\n').length - 2} flags)\n`,
);
