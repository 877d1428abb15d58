/** How to try the accessible mode in `kiosk sim` (its --help and its start banner). */
export const SIM_ACCESSIBILITY_HELP = `Accessible mode (CONTRACT §7): type "e" and Enter to plug a headset in (a FIFO of evdev
records read by the real headset reader), or press F1 (Help) in the browser. Speech mode starts: every
screen is spoken in its language by espeak-ng, written as <data>/speech/NNNNNN.wav + .json, and its text
shown in this terminal. In the browser: arrow keys move between choices, Enter chooses, Escape goes
back, F1 Help, F2 repeats, +/- (or the volume keys) change the volume; "Letra grande"/"Large text" and
"Alto contraste"/"High contrast" at the top of every screen. The session (and speech) ends back home.`;

