#!/usr/bin/env bash
# Installs the Debian packages the tests and the simulator need (socat for real
# pseudo-terminal pairs, mosquitto as the real broker, chromium for the touch UI's
# browser tests and the kiosk screen itself), once. Idempotent and quiet when
# everything is there. The browser always comes from Debian, never downloaded.
set -euo pipefail
need=()
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
# The touch UI's font (chromium only recommends one, and installs skip recommends).
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
# TLS tests make their CA and certificates with openssl; systemd-analyze checks the units,
# whose ExecStart= binaries (cage for the kiosk screen) must exist for `verify`.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v cage >/dev/null 2>&1 || [ -x /usr/bin/cage ] || need+=(cage)
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
# Speech mode (CONTRACT §7): espeak-ng renders pt-PT and en, aplay plays on ALSA; sox is not needed.
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v aplay >/dev/null 2>&1 || need+=(alsa-utils)
# The drop-box board's reference firmware (firmware/): the AVR cross compiler and C
# library, the simavr emulator and its library, and the host C toolchain for the
# harness and the host tests.
command -v avr-gcc >/dev/null 2>&1 || need+=(gcc-avr)
[ -e /usr/lib/avr/include/avr/io.h ] || need+=(avr-libc)
command -v simavr >/dev/null 2>&1 || need+=(simavr)
[ -e /usr/include/simavr/sim_avr.h ] || need+=(libsimavr-dev)
[ -e /usr/include/libelf.h ] || need+=(libelf-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: need ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "install-system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
