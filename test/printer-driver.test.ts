import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startSimulatedPrinter, type SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import {
  PREPARED_STATUS_MAX_AGE_MS,
  PrinterDriver,
  STATUS_REPLY_TIMEOUT_MS,
  printConfirmTimeoutMs,
  starSettleMs,
  type PrintResult,
} from '../devices/printer/printerDriver.js';
import { openTcpPrinter, type PrinterCloseInfo } from '../devices/printer/printerTransport.js';
import { classifyStatus, type PrinterStatus } from '../devices/printer/statusProtocol.js';
import { encodeTicket } from '../devices/printer/ticketLayout.js';
import { waitUntil } from './support/waitUntil.js';

const JOB = encodeTicket(
  {
    number: 'C007',
    serviceName: 'Contribuições',
    office: 'Porto',
    issuedAt: new Date('2026-03-02T10:00:00Z'),
    timeZone: 'Europe/Lisbon',
    locale: 'pt-PT',
    peopleAhead: 2,
    waitMin: { low: 5, high: 15 },
    qrUrl: 'https://senhas.example.pt/t/C007',
    contactLine: 'Linha Segurança Social 300 502 502',
    onlineHint: false,
    likelyNotServedBeforeClosing: false,
    offline: false,
    kind: 'ticket',
  },
  { type: 'epson' },
);
const ID = Buffer.from('0001');

/** Lets real socket I/O run while timers are fake; bounded in real time. */

/** Fake setTimeout here: poll once per event-loop turn (setImmediate), for real-time seconds. */
const TURNS = { pollMs: 0, timeoutMs: 3000 };

function track<T>(p: Promise<T>): { done: () => boolean; value: () => T | undefined } {
  let done = false;
  let value: T | undefined;
  void p.then((v) => {
    done = true;
    value = v;
  });
  return { done: () => done, value: () => value };
}

describe('printer driver against the simulated TM-T20III over TCP', () => {
  let sim: SimulatedPrinter;
  let driver: PrinterDriver;

  beforeEach(async () => {
    sim = await startSimulatedPrinter();
    driver = new PrinterDriver({ type: 'epson', openTransport: () => openTcpPrinter('127.0.0.1', sim.port) });
    await driver.connect();
  });

  afterEach(async () => {
    vi.useRealTimers();
    await driver.close();
    await sim.close();
  });

  it('reads a healthy printer as online with the three DLE EOT requests', async () => {
    const s = await driver.readStatus();
    expect(classifyStatus(s)).toBe('online');
    expect(s.raw).toEqual([0x12, 0x12, 0x12]);
    expect([...sim.received]).toEqual([0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x04]);
  });

  it('reads paper out, cover open, paper near end and a cutter error', async () => {
    sim.setStatus({ paper: 'out' });
    expect(classifyStatus(await driver.readStatus())).toBe('paperOut');
    sim.setStatus({ paper: 'ok', coverOpen: true });
    expect(classifyStatus(await driver.readStatus())).toBe('coverOpen');
    sim.setStatus({ coverOpen: false, paper: 'near_end' });
    expect(classifyStatus(await driver.readStatus())).toBe('paperNearEnd');
    sim.setStatus({ paper: 'ok', error: true });
    expect(classifyStatus(await driver.readStatus())).toBe('error');
  });

  it('a printer that stops answering is offline after exactly 1 s', async () => {
    sim.setStatus({ offline: true });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const read = track(driver.readStatus());
    await waitUntil('the first request to reach the printer', () => sim.droppedBytes >= 3, TURNS);
    vi.advanceTimersByTime(STATUS_REPLY_TIMEOUT_MS - 1);
    await waitUntil('a turn', () => true, TURNS);
    expect(read.done()).toBe(false);
    vi.advanceTimersByTime(1);
    await waitUntil('the status read to give up', read.done, TURNS);
    expect(read.value()).toMatchObject({ answered: false, online: false });
    expect(classifyStatus(read.value()!)).toBe('offline');
    expect(driver.counters.statusTimeouts).toBe(1);
    // Only the first request was sent: no point asking the rest of a silent printer.
    expect(sim.droppedBytes).toBe(3);
  });

  it('prints a ticket and reports it confirmed by the GS ( H completion reply', async () => {
    const r = await driver.print(JOB, ID);
    expect(r).toMatchObject({ outcome: 'confirmed', confirmed: true, reason: null });
    expect(classifyStatus(r.status)).toBe('online');
    const [job] = await sim.waitForJobs(1);
    expect(job!.complete).toBe(true);
    expect(job!.document.qrCodes).toEqual(['https://senhas.example.pt/t/C007']);
    expect(job!.document.lines.map((l) => l.text)).toContain('Contribuições');
    // The completion request follows the job, with our id.
    expect(sim.received.indexOf(Buffer.from([0x1d, 0x28, 0x48, 0x06, 0x00, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31]))).toBeGreaterThan(JOB.length - 1);
    expect(sim.sent.indexOf(Buffer.from([0x37, 0x22, 0x30, 0x30, 0x30, 0x31, 0x00]))).toBeGreaterThanOrEqual(0);
  });

  describe('the status read made for the next ticket (while central answers)', () => {
    const STATUS_READ = [0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x04];
    /** The status reads sent before the job's first byte. */
    const readsBeforeJob = (): number => {
      const bytes = [...sim.received];
      let reads = 0;
      while (bytes.slice(reads * 9, reads * 9 + 9).join() === STATUS_READ.join()) reads++;
      return reads;
    };
    let now = 0;

    beforeEach(async () => {
      await driver.close();
      now = 0;
      driver = new PrinterDriver({ type: 'epson', openTransport: () => openTcpPrinter('127.0.0.1', sim.port), now: () => now });
      await driver.connect();
    });

    it('stands as the print\'s pre-print read when fresh: one read before the job, not two', async () => {
      await driver.readStatus({ forNextPrint: true });
      now += PREPARED_STATUS_MAX_AGE_MS;
      expect((await driver.print(JOB, ID)).outcome).toBe('confirmed');
      expect(readsBeforeJob()).toBe(1);
    });

    it('is read again when older than PREPARED_STATUS_MAX_AGE_MS', async () => {
      await driver.readStatus({ forNextPrint: true });
      now += PREPARED_STATUS_MAX_AGE_MS + 1;
      await driver.print(JOB, ID);
      expect(readsBeforeJob()).toBe(2);
    });

    it('a plain poll never stands in for the pre-print read', async () => {
      await driver.readStatus();
      await driver.print(JOB, ID);
      expect(readsBeforeJob()).toBe(2);
    });

    it('a fault seen by that read refuses the ticket without a byte of it sent', async () => {
      sim.setStatus({ paper: 'out' });
      await driver.readStatus({ forNextPrint: true });
      const r = await driver.print(JOB, ID);
      expect(r).toMatchObject({ outcome: 'refused', reason: 'paperOut' });
      expect(sim.received.length).toBe(9);
    });
  });

  it('prints with paper near end, and says so', async () => {
    sim.setStatus({ paper: 'near_end' });
    const r = await driver.print(JOB, ID);
    expect(r.outcome).toBe('confirmed');
    expect(classifyStatus(r.status)).toBe('paperNearEnd');
  });

  for (const [name, change, reason] of [
    ['paper out', { paper: 'out' as const }, 'paperOut'],
    ['cover open', { coverOpen: true }, 'coverOpen'],
    ['a cutter error', { error: true }, 'error'],
  ] as const) {
    it(`refuses to print with ${name} and sends no print data`, async () => {
      sim.setStatus(change);
      const r = await driver.print(JOB, ID);
      expect(r).toMatchObject({ outcome: 'refused', confirmed: false, reason });
      expect(sim.received.length).toBe(9); // the three status requests only
      expect(sim.jobs).toHaveLength(0);
    });
  }

  it('a job cut short by paper running out is unconfirmed, with the paper-out status', async () => {
    sim.paperOutAfterBytes(200);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const print = track(driver.print(JOB, ID));
    await waitUntil('the job to reach the printer', () => sim.received.length >= 9 + JOB.length + 11, TURNS);
    vi.advanceTimersByTime(printConfirmTimeoutMs(JOB.length) - 1);
    await waitUntil('a turn', () => true, TURNS);
    expect(print.done()).toBe(false);
    vi.advanceTimersByTime(1);
    await waitUntil('the print to give up', print.done, TURNS);
    expect(print.value()).toMatchObject({ outcome: 'unconfirmed', confirmed: false, reason: 'no_completion_reply' });
    expect(classifyStatus(print.value()!.status)).toBe('paperOut');
    expect(sim.jobs[0]!.complete).toBe(false);
  });

  it('reports a lost connection once, and then reads offline and refuses to print', async () => {
    const lost: PrinterCloseInfo[] = [];
    driver.onDisconnect((info) => lost.push(info));
    await sim.close();
    await waitUntil('the disconnect', () => lost.length > 0, TURNS);
    expect(lost).toEqual([expect.objectContaining({ byUs: false })]);
    expect(driver.connected).toBe(false);
    expect(classifyStatus(await driver.readStatus())).toBe('offline');
    expect(await driver.print(JOB, ID)).toMatchObject({ outcome: 'refused', reason: 'not_connected' });
    sim = await startSimulatedPrinter(); // for afterEach
  });

  it('our own close is not reported as a lost connection', async () => {
    const lost: PrinterCloseInfo[] = [];
    driver.onDisconnect((info) => lost.push(info));
    await driver.close();
    expect(lost).toEqual([{ byUs: true }]);
  });
});

/** A tiny printer stand-in: `answer` decides the reply to each chunk it receives. */
async function startResponder(answer: (chunk: Buffer, socket: net.Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (c) => answer(c, s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('printer driver against odd printers', () => {
  let close: (() => Promise<void>) | null = null;
  let driver: PrinterDriver | null = null;

  afterEach(async () => {
    vi.useRealTimers();
    await driver?.close();
    await close?.();
    driver = null;
    close = null;
  });

  it('a printer answering garbage bytes gives an invalid status, counted, and never throws', async () => {
    const r = await startResponder((c, s) => {
      for (let i = 0; i < c.length; i += 3) s.write(Buffer.from([0xff]));
    });
    close = r.close;
    driver = new PrinterDriver({ type: 'epson', openTransport: () => openTcpPrinter('127.0.0.1', r.port) });
    await driver.connect();
    const s = await driver.readStatus();
    expect(s).toMatchObject({ answered: true, valid: false });
    expect(classifyStatus(s)).toBe('error');
    expect(driver.counters.invalidStatusReplies).toBe(1);
    expect(await driver.print(JOB, ID)).toMatchObject({ outcome: 'refused', reason: 'error' });
  });

  it('sends one request at a time, even when status reads and a print are asked for together', async () => {
    let outstanding = 0;
    let maxOutstanding = 0;
    const r = await startResponder((c, s) => {
      // Each DLE EOT gets its answer 5 ms later; the completion request is answered at once.
      for (let i = 0; i + 2 < c.length + 1; i++) {
        if (c[i] === 0x10 && c[i + 1] === 0x04) {
          outstanding++;
          maxOutstanding = Math.max(maxOutstanding, outstanding);
          setTimeout(() => {
            outstanding--;
            s.write(Buffer.from([0x12]));
          }, 5);
        }
        if (c[i] === 0x1d && c[i + 1] === 0x28 && c[i + 2] === 0x48) s.write(Buffer.concat([Buffer.from([0x37, 0x22]), c.subarray(i + 7, i + 11), Buffer.from([0])]));
      }
    });
    close = r.close;
    driver = new PrinterDriver({ type: 'epson', openTransport: () => openTcpPrinter('127.0.0.1', r.port) });
    await driver.connect();
    const results = await Promise.all([driver.readStatus(), driver.print(JOB, ID), driver.readStatus(), driver.readStatus()]);
    expect(maxOutstanding).toBe(1);
    expect((results[1] as PrintResult).outcome).toBe('confirmed');
    for (const s of [results[0], results[2], results[3]] as PrinterStatus[]) expect(classifyStatus(s)).toBe('online');
  });

  it('a reply arriving after its request timed out is not taken for the next one', async () => {
    let n = 0;
    let late: net.Socket | null = null;
    const r = await startResponder((_c, s) => {
      n++;
      // The first request goes unanswered for now; the others are answered at once.
      if (n === 1) late = s;
      else s.write(Buffer.from([0x12]));
    });
    close = r.close;
    driver = new PrinterDriver({ type: 'epson', openTransport: () => openTcpPrinter('127.0.0.1', r.port) });
    await driver.connect();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const first = track(driver.readStatus());
    await waitUntil('the first request', () => late !== null, TURNS);
    vi.advanceTimersByTime(STATUS_REPLY_TIMEOUT_MS);
    await waitUntil('the first read to give up', first.done, TURNS);
    expect(classifyStatus(first.value()!)).toBe('offline');
    // Now the late answer comes: "cover open". It must not be read as the next reply.
    late!.write(Buffer.from([0x16]));
    const t0 = Date.now();
    await waitUntil('the late byte to arrive', () => Date.now() - t0 > 50, TURNS);
    expect(classifyStatus(await driver.readStatus())).toBe('online');
  });

  describe('a Star printer (automatic status, no completion reply)', () => {
    const ASB_OK = Buffer.from([0x0f, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00]);
    const ASB_PAPER_OUT = Buffer.from([0x0f, 0x02, 0x08, 0x00, 0x00, 0x08, 0x00]);

    async function starPrinter(asbAfterJob: Buffer): Promise<PrinterDriver> {
      let jobSeen = false;
      const r = await startResponder((c, s) => {
        if (c.includes(Buffer.from([0x1b, 0x64, 0x02]))) jobSeen = true;
        if (c.includes(Buffer.from([0x1b, 0x06, 0x01]))) s.write(jobSeen ? asbAfterJob : ASB_OK);
      });
      close = r.close;
      const d = new PrinterDriver({ type: 'star', openTransport: () => openTcpPrinter('127.0.0.1', r.port) });
      await d.connect();
      return d;
    }

    const starJob = encodeTicket(
      starTicket(),
      { type: 'star' },
    );

    it('confirms a job when the status read after it shows no fault', async () => {
      driver = await starPrinter(ASB_OK);
      expect(classifyStatus(await driver.readStatus())).toBe('online');
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const print = track(driver.print(starJob, ID));
      await waitUntil('the job to be sent', () => driver!.counters.jobsSent === 1, TURNS);
      await waitUntil('a turn', () => true, TURNS);
      vi.advanceTimersByTime(starSettleMs(starJob.length));
      await waitUntil('the print to finish', print.done, TURNS);
      expect(print.value()).toMatchObject({ outcome: 'confirmed', confirmed: true });
    });

    it('leaves a job unconfirmed when the status after it shows paper out', async () => {
      driver = await starPrinter(ASB_PAPER_OUT);
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const print = track(driver.print(starJob, ID));
      await waitUntil('the job to be sent', () => driver!.counters.jobsSent === 1, TURNS);
      await waitUntil('a turn', () => true, TURNS);
      vi.advanceTimersByTime(starSettleMs(starJob.length));
      await waitUntil('the print to finish', print.done, TURNS);
      expect(print.value()).toMatchObject({ outcome: 'unconfirmed', reason: 'fault_after_job' });
    });
  });
});

function starTicket() {
  return {
    number: 'P001',
    serviceName: 'Benefits',
    office: 'Lisboa',
    issuedAt: new Date('2026-03-02T10:00:00Z'),
    timeZone: 'Europe/Lisbon',
    locale: 'en' as const,
    peopleAhead: 0,
    waitMin: null,
    qrUrl: 'https://senhas.example.pt/t/P001',
    contactLine: '',
    onlineHint: false,
    likelyNotServedBeforeClosing: false,
    offline: false,
    kind: 'ticket' as const,
  };
}
