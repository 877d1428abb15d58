/**
 * The board simulator's behaviours: small pieces that decide how the board answers a
 * command and what becomes of a frame it sends. The simulator asks them newest first
 * and the first answer wins (the idea of zwave-js's mock node behaviours), so a test
 * changes one thing about the board by adding one behaviour in front.
 */
import type { BoardCommand, BoardFrame } from '../../devices/board/frames.js';

/** A frame without its seq: the simulator numbers frames as it sends them. */
type WithoutSeq<F> = F extends BoardFrame ? Omit<F, 'seq'> : never;
export type FrameBody = WithoutSeq<BoardFrame>;

/** How the board answers one command; `then` runs after the answer is on the wire. */
export type CommandVerdict =
  | { answer: 'ack'; then?: () => void }
  | { answer: 'nak'; reason: string; then?: () => void }
  | { answer: 'ignored'; then?: () => void };

/** 'lose': numbered but never sent (seq advances); 'suppress': not even numbered. */
export type FrameFate = 'lose' | 'suppress';

/** What a behaviour may do to the board (the simulator is one). */
export interface BehaviourBoard {
  carryOut(command: BoardCommand): void;
  removeBehaviour(behaviour: BoardBehaviour): void;
}

export interface BoardBehaviour {
  readonly name: string;
  /** A verdict, or undefined to leave the command to older behaviours. */
  onCommand?(board: BehaviourBoard, received: { seq: number; command: BoardCommand }): CommandVerdict | undefined;
  /** A fate for a frame about to be sent, or undefined to let it go. */
  onFrame?(board: BehaviourBoard, frame: FrameBody): FrameFate | undefined;
}

/** The board's own behaviour, always last: acknowledge and carry out every command. */
export const carryOutCommands: BoardBehaviour = {
  name: 'carry out commands',
  onCommand: (board, { command }) => ({ answer: 'ack', then: () => board.carryOut(command) }),
};

/** The next command is refused with NAK,<cmdSeq>,<reason> and not carried out. */
export function nakOnce(reason: string): BoardBehaviour {
  const behaviour: BoardBehaviour = {
    name: `NAK the next command (${reason})`,
    onCommand: (board) => {
      board.removeBehaviour(behaviour);
      return { answer: 'nak', reason };
    },
  };
  return behaviour;
}

/** Commands are recorded but never answered nor carried out. */
export function ignoreCommands(): BoardBehaviour {
  return { name: 'ignore commands', onCommand: () => ({ answer: 'ignored' }) };
}

/** The next `n` frames are numbered but lost on the wire. */
export function loseFrames(n: number): BoardBehaviour {
  let left = n;
  const behaviour: BoardBehaviour = {
    name: `lose ${n} frame(s)`,
    onFrame: (board) => {
      left--;
      if (left <= 0) board.removeBehaviour(behaviour);
      return 'lose';
    },
  };
  return behaviour;
}

/** Nothing is sent at all and seq stands still (a hung or unpowered transmitter). */
export function silence(): BoardBehaviour {
  return { name: 'silence', onFrame: () => 'suppress' };
}

/** RESET only with the count the board holds, NAK otherwise (as the reference firmware does). */
export function resetOnlyWithHeldCount(heldCount: () => number): BoardBehaviour {
  return {
    name: 'RESET only with the count held',
    onCommand: (board, { command }) => {
      if (command.type !== 'RESET') return undefined;
      if (command.dropCount !== heldCount()) return { answer: 'nak', reason: 'COUNT_MISMATCH' };
      return { answer: 'ack', then: () => board.carryOut(command) };
    },
  };
}
