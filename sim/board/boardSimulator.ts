/**
 * A simulated drop-box board speaking protocol v1 or v2 (CONTRACT §3) over anything
 * that can write bytes and report bytes received: a SerialTransport (the board end of
 * a socat PTY) or the device end of a mock port. Tests and `kiosk sim` script it:
 * drops, door, fill, tamper, faults on the wire (lost frames, garbage, silence,
 * reboots) and how it answers the controller's commands.
 *
 * How it answers and what reaches the wire are small behaviours (./behaviours.ts),
 * asked newest first as zwave-js's mock nodes do: the board starts with one that
 * carries every command out, and `nakNext`, `ignoreCommands`, `loseNextFrames` and
 * `silence` each add one in front of it; a test may add its own with
 * `defineBehaviour`.
 *
 * All state is plain fields; time comes from an injectable clock so heartbeats work
 * under vi.useFakeTimers or a simulated clock.
 */
import type { BoardCommand, BoardFrame, MalformedReason } from '../../devices/board/frames.js';
import { LineFramer, encodeBoardFrame, nextSeq, parseCommand, type ProtocolVersion } from '../../devices/board/protocol.js';
import {
  carryOutCommands,
  ignoreCommands,
  loseFrames,
  nakOnce,
  silence,
  type BoardBehaviour,
  type CommandVerdict,
  type FrameBody,
} from './behaviours.js';

/** The board's heartbeat period (CONTRACT §3: every 1 s). */
export const BOARD_HEARTBEAT_MS = 1000;
/** How long `waitForCommand` waits by default. */
export const WAIT_FOR_COMMAND_TIMEOUT_MS = 1000;

/** The version the simulator speaks unless told otherwise (its tests were written in v1). */
export const BOARD_PROTOCOL_VERSION: ProtocolVersion = 1;

/** Where the board's bytes go and come from. A SerialTransport is one. */
export interface BoardLink {
  write(data: Buffer | string): Promise<void> | void;
  onData(listener: (chunk: Buffer) => void): void;
}

/** Time as the simulator sees it. Defaults read the globals at call time, so fake timers apply. */
export interface SimClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const systemClock: SimClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface BoardSimulatorOptions {
  boardId?: string;
  firmware?: string;
  heartbeatMs?: number;
  /** Envelopes already in the bin at power-on (the count survives reboots). */
  initialDropCount?: number;
  initialFill?: number;
  initialDoor?: DoorState;
  /** The protocol version it announces, writes and accepts (default 1). */
  protocolVersion?: ProtocolVersion;
  clock?: SimClock;
}

export type DoorState = 'OPEN' | 'CLOSED';
export type LedMode = 'OFF' | 'ON' | 'BLINK';
export type TamperCode = 'SHOCK' | 'TILT' | 'CASE';

export interface BoardState {
  dropCount: number;
  door: DoorState;
  fill: number;
  slot: boolean;
  led: LedMode;
  /** False while an UNLOCK is in force. */
  locked: boolean;
  key: boolean;
}

export interface ReceivedCommand {
  seq: number;
  command: BoardCommand;
  /** What the board did with it. */
  answer: 'ack' | 'nak' | 'ignored';
}

export class BoardSimulator {
  readonly boardId: string;
  readonly firmware: string;
  readonly heartbeatMs: number;
  readonly protocolVersion: ProtocolVersion;
  readonly state: BoardState;

  /** Seq of the next frame the board sends. */
  seq = 0;
  /** Every frame handed to the link, in order (a link that refuses the write loses it: see writeFailures). */
  readonly framesSent: BoardFrame[] = [];
  /** Frames numbered but never sent (loseNextFrames, or no link attached). */
  framesLost = 0;
  /** Every well-formed command from the controller, in order. */
  readonly commandsReceived: ReceivedCommand[] = [];
  /** Lines from the controller that were not commands, by reason. */
  readonly malformedCommands: Partial<Record<MalformedReason, number>> = {};
  /** Writes the link refused (port gone mid-write). */
  writeFailures = 0;

  private readonly clock: SimClock;
  private link: BoardLink | null = null;
  private framer = new LineFramer();
  private heartbeatTimer: unknown = null;
  private relockTimer: unknown = null;
  private bootedAt: number;
  /** Newest first. */
  private behaviours: BoardBehaviour[] = [carryOutCommands];
  private silenceBehaviour: BoardBehaviour | null = null;
  private ignoreBehaviour: BoardBehaviour | null = null;
  private readonly commandListeners = new Set<(received: ReceivedCommand) => void>();

  constructor(options: BoardSimulatorOptions = {}) {
    this.boardId = options.boardId ?? 'SIMBOARD1';
    this.firmware = options.firmware ?? 'sim-1.0.0';
    this.heartbeatMs = options.heartbeatMs ?? BOARD_HEARTBEAT_MS;
    this.protocolVersion = options.protocolVersion ?? BOARD_PROTOCOL_VERSION;
    this.clock = options.clock ?? systemClock;
    this.bootedAt = this.clock.now();
    this.state = {
      dropCount: options.initialDropCount ?? 0,
      door: options.initialDoor ?? 'CLOSED',
      fill: options.initialFill ?? 0,
      slot: false,
      led: 'OFF',
      locked: true,
      key: false,
    };
  }

  /** Total malformed lines received from the controller. */
  get malformedCommandCount(): number {
    return Object.values(this.malformedCommands).reduce((a, b) => a + (b ?? 0), 0);
  }

  // ---------------------------------------------------------------------------
  // Wiring

  /** Connects the board to a link (a plugged cable). Replaces any previous link. */
  attach(link: BoardLink): void {
    this.link = link;
    this.framer = new LineFramer();
    link.onData((chunk) => {
      // A detached or replaced link may still deliver: it is no longer our cable.
      if (this.link === link) this.receive(chunk);
    });
  }

  /** Disconnects the board (cable pulled): it keeps running, its frames are lost. */
  detach(): void {
    this.link = null;
  }

  /** Powers the board on: HELLO with seq 0, then a heartbeat every heartbeatMs. */
  start(): void {
    this.boot();
  }

  /** Stops the heartbeat and pending timers (teardown). State is kept; commands are still answered. */
  stop(): void {
    this.clearTimers();
  }

  /** Restarts the firmware: seq back to 0, HELLO again, dropCount kept, lock engaged. */
  reboot(): void {
    this.boot();
  }

  // ---------------------------------------------------------------------------
  // Things that happen at the box

  /** `n` envelopes go through the slot: SLOT,1 → SLOT,0 → DROP,<count> each. */
  drop(n = 1): void {
    for (let i = 0; i < n; i++) {
      this.slot(true);
      this.slot(false);
      this.state.dropCount++;
      this.send({ type: 'DROP', dropCount: this.state.dropCount });
    }
  }

  slot(occupied: boolean): void {
    this.state.slot = occupied;
    this.send({ type: 'SLOT', occupied });
  }

  /** The door sensor reports `state`, whatever the lock says. */
  door(state: DoorState): void {
    this.state.door = state;
    this.send({ type: 'DOOR', state });
  }

  /** A technician pulls the door: it opens only while an UNLOCK is in force. */
  openDoor(): boolean {
    if (this.state.locked) return false;
    this.door('OPEN');
    return true;
  }

  closeDoor(): void {
    this.door('CLOSED');
  }

  /** The door is forced open against the lock. */
  forceDoor(): void {
    this.door('OPEN');
  }

  fill(percent: number): void {
    this.state.fill = percent;
    this.send({ type: 'FILL', percent });
  }

  tamper(code: TamperCode): void {
    this.send({ type: 'TAMPER', code });
  }

  key(on: boolean): void {
    this.state.key = on;
    this.send({ type: 'KEY', state: on ? 'ON' : 'OFF' });
  }

  error(code: string, text: string | null = null): void {
    this.send({ type: 'ERR', code, text });
  }

  // ---------------------------------------------------------------------------
  // Faults on the wire

  /** Writes bytes exactly as given (garbage, partial lines). Ignores silence and seq. */
  sendRaw(bytes: Buffer | string): void {
    this.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** The next `n` frames are numbered (seq advances) but never reach the wire. */
  loseNextFrames(n: number): void {
    if (n > 0) this.defineBehaviour(loseFrames(n));
  }

  /** While on, the board sends nothing at all (heartbeats included) and seq stands still. */
  silence(on: boolean): void {
    this.silenceBehaviour = this.toggle(this.silenceBehaviour, on, silence);
  }

  /** The next command is answered NAK,<cmdSeq>,<reason> and not carried out. */
  nakNext(reason: string): void {
    this.defineBehaviour(nakOnce(reason));
  }

  /** While on, commands are recorded but never answered or carried out (controller retry tests). */
  ignoreCommands(on: boolean): void {
    this.ignoreBehaviour = this.toggle(this.ignoreBehaviour, on, ignoreCommands);
  }

  // ---------------------------------------------------------------------------
  // Behaviours

  /** Adds behaviours in front of the others (the last one given is asked first). */
  defineBehaviour(...behaviours: BoardBehaviour[]): void {
    this.behaviours = [...[...behaviours].reverse(), ...this.behaviours];
  }

  /** Removes a behaviour added earlier (a one-shot behaviour removes itself). */
  removeBehaviour(behaviour: BoardBehaviour): void {
    this.behaviours = this.behaviours.filter((b) => b !== behaviour);
  }

  private toggle(current: BoardBehaviour | null, on: boolean, make: () => BoardBehaviour): BoardBehaviour | null {
    if (on && current === null) {
      const behaviour = make();
      this.defineBehaviour(behaviour);
      return behaviour;
    }
    if (!on && current !== null) this.removeBehaviour(current);
    return on ? current : null;
  }

  // ---------------------------------------------------------------------------
  // Observing the controller

  /** Called for every well-formed command; returns an unsubscribe function. */
  onCommand(listener: (received: ReceivedCommand) => void): () => void {
    this.commandListeners.add(listener);
    return () => this.commandListeners.delete(listener);
  }

  /** The first command (already received or still to come) that matches; rejects after `timeoutMs`. */
  expectWritten(predicate: (command: BoardCommand) => boolean, timeoutMs = WAIT_FOR_COMMAND_TIMEOUT_MS): Promise<ReceivedCommand> {
    return this.waitForCommand(predicate, timeoutMs);
  }

  /** The same as expectWritten (its older name). */
  waitForCommand(
    predicate: (command: BoardCommand) => boolean,
    timeoutMs = WAIT_FOR_COMMAND_TIMEOUT_MS,
  ): Promise<ReceivedCommand> {
    const already = this.commandsReceived.find((r) => predicate(r.command));
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const unsubscribe = this.onCommand((received) => {
        if (!predicate(received.command)) return;
        this.clock.clearTimeout(timer);
        unsubscribe();
        resolve(received);
      });
      const timer = this.clock.setTimeout(() => {
        unsubscribe();
        const seen = this.commandsReceived.map((r) => r.command.type).join(', ') || 'none';
        reject(new Error(`board ${this.boardId}: no matching command within ${timeoutMs} ms; received: ${seen}`));
      }, timeoutMs);
    });
  }

  // ---------------------------------------------------------------------------
  // Internals

  private boot(): void {
    this.clearTimers();
    this.seq = 0;
    this.bootedAt = this.clock.now();
    this.state.locked = true;
    this.state.slot = false;
    this.framer = new LineFramer();
    this.send({ type: 'HELLO', version: this.protocolVersion, firmware: this.firmware, boardId: this.boardId });
    this.heartbeatTimer = this.clock.setInterval(() => this.heartbeat(), this.heartbeatMs);
  }

  /** Sends a heartbeat now (the timer does it every heartbeatMs). */
  heartbeat(): void {
    const uptimeS = Math.max(0, Math.floor((this.clock.now() - this.bootedAt) / 1000));
    this.send({ type: 'HB', uptimeS, dropCount: this.state.dropCount });
  }

  private clearTimers(): void {
    if (this.heartbeatTimer !== null) this.clock.clearInterval(this.heartbeatTimer);
    if (this.relockTimer !== null) this.clock.clearTimeout(this.relockTimer);
    this.heartbeatTimer = null;
    this.relockTimer = null;
  }

  /** Numbers a frame and puts it on the wire, unless a behaviour loses or suppresses it. */
  send(body: FrameBody): void {
    const fate = this.askBehaviours((b) => b.onFrame?.(this, body));
    if (fate === 'suppress') return;
    const frame = { ...body, seq: this.seq } as BoardFrame;
    this.seq = nextSeq(this.seq);
    if (fate === 'lose' || this.link === null) {
      this.framesLost++;
      return;
    }
    this.framesSent.push(frame);
    this.write(Buffer.from(encodeBoardFrame(frame, this.protocolVersion), 'latin1'));
  }

  /** The first answer of the behaviours, newest first. */
  private askBehaviours<T>(ask: (b: BoardBehaviour) => T | undefined): T | undefined {
    for (const behaviour of [...this.behaviours]) {
      const answer = ask(behaviour);
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  private write(bytes: Buffer): void {
    const link = this.link;
    if (!link) return;
    try {
      const pending = link.write(bytes);
      if (pending) pending.catch(() => this.writeFailures++);
    } catch {
      this.writeFailures++;
    }
  }

  private receive(chunk: Buffer): void {
    for (const item of this.framer.push(chunk)) {
      if (!item.ok) {
        this.countMalformed('too_long');
        continue;
      }
      const parsed = parseCommand(item.line, this.protocolVersion);
      if (!parsed.ok) {
        this.countMalformed(parsed.reason);
        continue;
      }
      this.handle(parsed.seq, parsed.command);
    }
  }

  private countMalformed(reason: MalformedReason): void {
    this.malformedCommands[reason] = (this.malformedCommands[reason] ?? 0) + 1;
  }

  private handle(cmdSeq: number, command: BoardCommand): void {
    const verdict: CommandVerdict = this.askBehaviours((b) => b.onCommand?.(this, { seq: cmdSeq, command })) ?? { answer: 'ignored' };
    if (verdict.answer === 'ack') this.send({ type: 'ACK', cmdSeq });
    if (verdict.answer === 'nak') this.send({ type: 'NAK', cmdSeq, reason: verdict.reason });
    verdict.then?.();
    const received: ReceivedCommand = { seq: cmdSeq, command, answer: verdict.answer };
    this.commandsReceived.push(received);
    for (const listener of [...this.commandListeners]) listener(received);
  }

  /** What a board does with a command it accepted (used by the carryOutCommands behaviour). */
  carryOut(command: BoardCommand): void {
    switch (command.type) {
      case 'UNLOCK':
        this.state.locked = false;
        if (this.relockTimer !== null) this.clock.clearTimeout(this.relockTimer);
        this.relockTimer = this.clock.setTimeout(() => {
          this.relockTimer = null;
          this.state.locked = true;
        }, command.ms);
        break;
      case 'RESET':
        this.state.dropCount = 0;
        break;
      case 'LED':
        this.state.led = command.mode;
        break;
      case 'STATUS':
        this.heartbeat();
        this.send({ type: 'DOOR', state: this.state.door });
        this.send({ type: 'FILL', percent: this.state.fill });
        this.send({ type: 'SLOT', occupied: this.state.slot });
        break;
    }
  }
}
