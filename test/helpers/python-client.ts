import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** test/python/ in the source tree (tsc does not copy .py files), from dist/test/helpers. */
const SCRIPT = path.resolve(here, '../../../test/python/strict_reflection_client.py');
/** Debian's interpreter: python3-grpcio and python3-protobuf are installed for it, not for a pyenv python3. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export type PythonStep =
  | { op: 'list' }
  | { op: 'describe'; symbol: string }
  | { op: 'file'; name: string }
  | { op: 'unary'; method: string; request?: unknown }
  | { op: 'stream'; method: string; request?: unknown; count?: number };

export interface PythonScript {
  version?: 'v1' | 'v1alpha';
  ca?: string;
  cert?: string;
  key?: string;
  server_name?: string;
  token?: string;
  steps: PythonStep[];
}

export interface PythonResult {
  op: string;
  ok?: any;
  error?: string;
  details?: string;
  fetched?: string[];
}

/** Runs the strict Python client against `address`; one result per step, after a header line. */
export function runPythonClient(
  address: string,
  script: PythonScript,
): Promise<{ header: { implementation: string; grpc: string }; results: PythonResult[] }> {
  return new Promise((resolve, reject) => {
    execFile(
      SYSTEM_PYTHON,
      [SCRIPT, address, JSON.stringify(script)],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err)
          return reject(
            new Error(
              `python client failed (needs: apt install python3-grpcio python3-protobuf): ${err.message}\n${stderr}`,
            ),
          );
        const [header, ...results] = stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line));
        resolve({ header, results });
      },
    );
  });
}
