// The floor of the boot benchmark (bench/boot.ts), plain JavaScript with no loader: a bare
// Node process that loads the controller's runtime dependencies, opens an outbox like the
// controller's (SQLite, WAL, synchronous=FULL) and answers GET /api/health.
import { createServer } from 'node:http';
import process from 'node:process';
import Database from 'better-sqlite3';
import * as xstate from 'xstate';
import * as zod from 'zod';
import * as pino from 'pino';
import * as mqtt from 'mqtt';
import * as serialport from 'serialport';
import * as serialStream from '@serialport/stream';
import * as thermal from 'node-thermal-printer';
import * as commander from 'commander';

const [, , dbFile, port] = process.argv;
const loaded = [xstate, zod, pino, mqtt, serialport, serialStream, thermal, commander].length;
const db = new Database(dbFile);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'ok', loaded }));
}).listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => {
  db.close();
  process.exit(0);
});
