#!/usr/bin/env bash
# Runs Debian's Chromium full screen on the kiosk's touch UI, locked down so a citizen can
# do nothing but use the page: no address bar, tabs, menus, dialogs, translation bubble,
# pinch zoom, swipe-back, update nags or saved state. Started by the kiosk's session
# (e.g. a systemd user unit or the X session's autostart) after `kiosk run`:
#
#   scripts/kiosk-browser.sh [URL]          # default http://127.0.0.1:8080/
#   scripts/kiosk-browser.sh --dry-run      # prints the command instead of running it
#   scripts/kiosk-browser.sh --once [URL]   # runs Chromium once (kiosk-display.service restarts it)
#
# KIOSK_BROWSER_FLAGS: extra Chromium flags (e.g. --ozone-platform=wayland under cage).
#
# It waits for the controller to answer (GET /api/health), then starts the browser, and
# starts it again if it ever exits (a crash, or someone managing to close it).
# Lock-down that flags cannot do (developer tools, other URLs, downloads) belongs in a
# managed policy: see the README, "Touch screen".
set -euo pipefail

DRY_RUN=0
ONCE=0
URL="${KIOSK_URL:-http://127.0.0.1:8080/}"
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --once) ONCE=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) URL="$arg" ;;
  esac
done

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
# How long to wait for the controller before starting the browser anyway (it shows its
# own "connecting" banner and reconnects by itself).
WAIT_FOR_CONTROLLER_S="${WAIT_FOR_CONTROLLER_S:-60}"
# Pause before restarting a browser that exited, so a crash loop does not spin the CPU.
RESTART_PAUSE_S=2

# A fresh, throwaway profile on every start: nothing a citizen did survives a restart.
PROFILE="$(mktemp -d /tmp/kiosk-browser.XXXXXX)"
trap 'rm -rf "$PROFILE"' EXIT

FLAGS=(
  --kiosk                                   # full screen, no browser UI, no way out with F11
  --incognito                               # no history, cookies or form data kept
  --user-data-dir="$PROFILE"
  --noerrdialogs                            # no "Chromium didn't shut down correctly" dialogs
  --disable-session-crashed-bubble
  --disable-infobars
  --no-first-run
  --no-default-browser-check
  --disable-translate                       # no "translate this page?" over a pt-PT page
  --disable-features=TranslateUI,Translate,OverscrollHistoryNavigation,MediaRouter
  --disable-pinch                           # no pinch zoom on the touch screen
  --overscroll-history-navigation=0         # no swipe back/forward
  --touch-events=enabled
  --check-for-update-interval=31536000      # no update nags (Debian updates it)
  --disable-component-update
  --disable-sync
  --password-store=basic                    # no keyring prompt
  --autoplay-policy=no-user-gesture-required
)
# shellcheck disable=SC2206 # word splitting wanted: a list of flags
[ -n "${KIOSK_BROWSER_FLAGS:-}" ] && FLAGS+=(${KIOSK_BROWSER_FLAGS})
FLAGS+=("$URL")

if [ "$DRY_RUN" = 1 ]; then
  printf '%q ' "$CHROMIUM" "${FLAGS[@]}"
  echo
  exit 0
fi

if [ ! -x "$CHROMIUM" ]; then
  echo "kiosk-browser: $CHROMIUM not found; install it with: sudo bash scripts/install-system-deps.sh" >&2
  exit 1
fi

HEALTH="${URL%/}/api/health"
for _ in $(seq "$WAIT_FOR_CONTROLLER_S"); do
  # curl when there is one; without it, node (the controller's runtime) asks instead.
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "$HEALTH" && break
  else
    node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$HEALTH" && break
  fi
  sleep 1
done

if [ "$ONCE" = 1 ]; then
  "$CHROMIUM" "${FLAGS[@]}"
  exit $?
fi

while true; do
  "$CHROMIUM" "${FLAGS[@]}" || true
  echo "kiosk-browser: chromium exited; starting it again in ${RESTART_PAUSE_S} s" >&2
  sleep "$RESTART_PAUSE_S"
done
