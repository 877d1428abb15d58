/**
 * Speech mode (CONTRACT §7): follows the touch UI's views and says, in the screen's
 * language, what the screen shows — from the same blocks the page renders
 * (screenContent), never from words of its own:
 *  - a new screen: its whole text, then the choice under focus (or how to reach the choices);
 *  - the focus moving: the focused choice;
 *  - a result, refusal or error appearing on the same screen: the new text;
 *  - the warning before an idle return home;
 *  - the volume changing: the new volume, at that volume;
 *  - Help: that staff are coming, then the keys.
 * Any key cuts what is being said; F2 says the last utterance again. Each utterance cuts
 * the one before (the speech device holds at most one), so speech keeps up with the keys.
 */
import type { Speech } from '../facades/speech.js';
import type { Logger } from '../log.js';
import type { KioskUi, UiView } from './kioskUi.js';
import { choicesOf, joinSentences, spokenBlocks, spokenChoice, spokenScreen, spokenVolume } from './screenContent.js';
import { SCREEN_TEXTS } from './screenTexts.js';

export interface NarratorOptions {
  ui: KioskUi;
  speech: Speech;
  log: Logger;
}

export class Narrator {
  private last: UiView | null = null;
  private lastSaid: { text: string; screen: string; lang: UiView['language'] } | null = null;
  private readonly cleanups: Array<() => void> = [];
  /** What speech mode starting says (and the keys), until it has been heard to the end once. */
  private opening: 'headset' | 'help' | null = null;

  constructor(private readonly opts: NarratorOptions) {}

  start(): this {
    const { ui } = this.opts;
    this.cleanups.push(ui.subscribe((view) => this.onView(view)));
    this.cleanups.push(
      ui.onKey((key, view) => {
        if (!view.a11y.speech) return;
        this.opts.speech.cut();
        if (key === 'F2' && this.lastSaid) this.say(this.lastSaid.text, view, this.lastSaid.screen, false);
        // Help in speech mode: staff are called again, and the keys are explained again.
        if (key === 'F1') {
          const t = SCREEN_TEXTS[view.language];
          this.say(joinSentences([t.helpCalled, t.keysHelp]), view);
        }
      }),
    );
    this.onView(ui.view());
    return this;
  }

  stop(): void {
    for (const c of this.cleanups.splice(0)) c();
    this.opts.speech.cut();
  }

  /** The last thing said (F2 says it again). */
  lastUtterance(): string | null {
    return this.lastSaid?.text ?? null;
  }

  private onView(view: UiView): void {
    const prev = this.last;
    this.last = view;
    if (!view.a11y.speech) {
      // The session ended (or speech was never on): nothing more is said.
      if (prev?.a11y.speech) this.opts.speech.cut();
      this.opening = null;
      return;
    }
    const focused = choicesOf(view.content).find((c) => c.key === view.focus) ?? null;
    const startedNow = !prev || !prev.a11y.speech;
    if (startedNow) {
      // Help pressed or headset plugged in: first what happened and the keys, then the screen.
      const headsetJustPlugged = view.a11y.headset && !prev?.a11y.headset;
      this.opening = headsetJustPlugged ? 'headset' : 'help';
      this.say(spokenScreen(view.content, focused), view);
      return;
    }
    if (view.screen !== prev.screen || view.language !== prev.language) {
      this.say(spokenScreen(view.content, focused), view);
      return;
    }
    if (view.content.warning && !prev.content.warning) {
      this.say(joinSentences([view.content.warning.title, view.content.warning.text]), view);
      return;
    }
    if (view.a11y.volume !== prev.a11y.volume) {
      this.say(spokenVolume(view.a11y.volume, view.language), view);
      return;
    }
    if (view.focus !== prev.focus && focused) {
      this.say(spokenChoice(focused, view.language), view);
      return;
    }
    // Something new on the same screen (an error, a key typed, a toggle): say what changed.
    const before = new Set(spokenBlocks(prev.content));
    const added = spokenBlocks(view.content).filter((b) => !before.has(b));
    if (added.length) {
      this.say(joinSentences(added), view);
      return;
    }
    // A toggle under focus switched (large text, contrast): say its new state. Other changes
    // to the focused choice (a queue count) are not said: they would talk over the citizen.
    const prevFocused = choicesOf(prev.content).find((c) => c.key === prev.focus);
    if (focused && prevFocused && focused.key === prevFocused.key && focused.pressed !== prevFocused.pressed) {
      this.say(spokenChoice(focused, view.language), view);
    }
  }

  private say(said: string, view: UiView, screen: string = view.screen, withOpening = true): void {
    // Until the opening (how speech started, the keys) has been heard whole, it leads each
    // utterance: a screen that changes at once (a kiosk still starting) must not cut it away.
    // A repeat (F2) is the last utterance as it was, opening included if it had one.
    const opening = withOpening ? this.opening : null;
    const t = SCREEN_TEXTS[view.language];
    const text = opening ? joinSentences([opening === 'headset' ? t.speechHint : t.helpCalled, t.keysHelp, said]) : said;
    this.lastSaid = { text, screen, lang: view.language };
    this.opts.speech
      .say({ text, lang: view.language, screen }, view.a11y.volume)
      .then((result) => {
        if (result === 'spoken' && opening && this.opening === opening) this.opening = null;
      })
      .catch((err: unknown) => {
        this.opts.log.warn({ err: (err as Error).message }, 'speech failed');
      });
  }
}
