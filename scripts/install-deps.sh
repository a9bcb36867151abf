#!/usr/bin/env bash
# Installs everything MediaWorker needs on Debian 12: Debian packages (FFmpeg's libraries,
# hiredis, OpenSSL, redis-server, the ffmpeg/ffprobe/espeak-ng/GStreamer test tools, luacheck) and a project-local
# Python venv (.venv) with moto_server and the test clients. Idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  pkg-config
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
  libhiredis-dev libssl-dev zlib1g-dev redis-server redis-tools libespeak-ng-dev libass-dev fonts-dejavu-core
  ffmpeg espeak-ng strace openssl lua-check
  pocketsphinx-en-us
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav
  chromium chromium-driver
  python3 python3-venv
)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "deps: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "deps: Swift 6 is not on PATH (install the Swift toolchain)" >&2; exit 1; }

# A venv of our own: the system Python stays untouched, and versions are pinned here.
requirements=scripts/requirements-dev.txt
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements-sha 2>/dev/null)" != "$want" ]; then
  echo "deps: preparing .venv ($requirements)" >&2
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
  echo "$want" > .venv/.requirements-sha
fi
