/**
 * The simulated Star TSP100/650 (sim/printer/starSimulator.ts), as a technician would
 * see it: what it prints, what it answers, and the behaviours tests stack on it.
 */
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeTicket } from '../devices/printer/ticketLayout.js';
import { decodeStarStatus, classifyStatus, STAR_STATUS_REQUEST } from '../devices/printer/statusProtocol.js';
import { STAR_STATUS_REQUEST_NAME } from '../sim/printer/starLineDecoder.js';
import { startStarPrinterSimulator, type StarPrinterSimulator } from '../sim/printer/starSimulator.js';

const job = (number: string) =>
  encodeTicket(
    { number, serviceName: 'Prestações', office: 'Lisboa', issuedAt: new Date('2026-11-28T09:15:00Z'), timeZone: 'Europe/Lisbon', locale: 'pt-PT', peopleAhead: 3, waitMin: null, qrUrl: `https://x.pt/${number}`, contactLine: 'Linha Segurança Social 300 502 502', onlineHint: false, likelyNotServedBeforeClosing: false, offline: false, kind: 'ticket', priority: true },
    { type: 'star' },
  );

describe('simulated Star TSP100/650 on TCP', () => {
  let sim: StarPrinterSimulator;
  let socket: net.Socket;
  let answers: Buffer[];

  beforeEach(async () => {
    sim = await startStarPrinterSimulator();
    answers = [];
    socket = net.connect(sim.port, '127.0.0.1');
    socket.on('data', (d) => answers.push(d));
    await new Promise((r) => socket.once('connect', r));
  });
  afterEach(async () => {
    socket.destroy();
    await sim.close();
  });

  const send = (b: Buffer) => new Promise<void>((r) => socket.write(b, () => r()));
  const until = async (cond: () => boolean, what: string) => {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > 3000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const asbAfter = async (): Promise<Buffer> => {
    const before = Buffer.concat(answers).length;
    await send(STAR_STATUS_REQUEST);
    await until(() => Buffer.concat(answers).length >= before + 9, 'an ASB message');
    return Buffer.concat(answers).subarray(before, before + 9);
  };

  it('prints a ticket as one job with its accents, sizes and QR code, split at the cut', async () => {
    await send(Buffer.concat([job('P042'), job('P043')]));
    await until(() => sim.jobs.length === 2, 'two jobs');
    const [first] = sim.jobs;
    const texts = first!.document.lines.map((l) => l.text);
    expect(texts).toContain('Prestações');
    expect(texts).toContain('Esta é uma senha prioritária');
    expect(first!.text).toContain('Linha Segurança Social');
    expect(first!.document.lines.find((l) => l.text === 'P042')).toMatchObject({ width: 4, height: 4 });
    expect(first!.document.qrCodes).toEqual(['https://x.pt/P042']);
    expect(first!.document.cuts).toBe(1);
  });

  it('answers ESC ACK SOH with a 9-byte ASB message the controller decodes', async () => {
    expect(classifyStatus(decodeStarStatus(await asbAfter()))).toBe('online');
    sim.setStatus({ paper: 'near_end' });
    expect(classifyStatus(decodeStarStatus(await asbAfter()))).toBe('paperNearEnd');
    sim.setStatus({ paper: 'out' });
    expect(classifyStatus(decodeStarStatus(await asbAfter()))).toBe('paperOut');
  });

  it('holds a job while the paper is out and prints it once the roll is back', async () => {
    sim.setStatus({ paper: 'out' });
    await send(job('P044'));
    await asbAfter(); // the job has been read by now
    expect(sim.jobs).toHaveLength(0);
    sim.setStatus({ paper: 'ok' });
    expect(sim.jobs.map((j) => j.document.lines.some((l) => l.text === 'P044'))).toEqual([true]);
  });

  it('powered off, answers nothing and loses what it is sent', async () => {
    sim.setStatus({ offline: true });
    await send(Buffer.concat([STAR_STATUS_REQUEST, job('P045')]));
    await new Promise((r) => setTimeout(r, 50));
    expect(answers).toHaveLength(0);
    sim.setStatus({ offline: false });
    expect(sim.jobs).toHaveLength(0);
  });

  it('a behaviour added by a test goes first, and can be removed again', async () => {
    const remove = sim.use((t, p) => {
      if (t.name !== STAR_STATUS_REQUEST_NAME) return false;
      p.reply(Buffer.from([0xff]));
      return true;
    });
    await send(STAR_STATUS_REQUEST);
    await until(() => answers.length > 0, 'the garbage answer');
    expect([...Buffer.concat(answers)]).toEqual([0xff]);
    remove();
    answers = [];
    expect(classifyStatus(decodeStarStatus(await asbAfter()))).toBe('online');
  });
});
