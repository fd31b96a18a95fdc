#!/usr/bin/env bash
# System packages Sovra's tests and benchmarks need, from Debian's archive.
# Idempotent: installs only what is missing. Needs root (or sudo) on a fresh machine.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || compgen -G "$2" >/dev/null; }

# PostgreSQL server: the cluster profile's database, started by the tests on loopback.
have initdb "/usr/lib/postgresql/*/bin/initdb" || need+=(postgresql)
# SoftHSM2: a real PKCS#11 token for HSM-mode key custody tests.
have softhsm2-util "/usr/bin/softhsm2-util" || need+=(softhsm2)
# ...and its PKCS#11 module, where the key tests and `sovra init --hsm` look for it.
have /usr/lib/softhsm/libsofthsm2.so "/usr/lib/softhsm/libsofthsm2.so" || need+=(libsofthsm2)
# ip (iproute2) brings loopback up inside the test network namespace.
have ip "/usr/sbin/ip" || need+=(iproute2)
# runuser (util-linux) runs PostgreSQL as its own user when we are root.
have runuser "/usr/sbin/runuser" || need+=(util-linux)
# pango (WeasyPrint's text layout) and a local font: HTML reports rendered to PDF.
have /usr/lib/x86_64-linux-gnu/libpango-1.0.so.0 "/usr/lib/*/libpango-1.0.so.0" || need+=(libpango-1.0-0 libpangoft2-1.0-0)
have DejaVuSans.ttf "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" || need+=(fonts-dejavu-core)
# pdftoppm and pdftotext (poppler-utils): the report tests rasterise and read the PDFs.
have pdftoppm "/usr/bin/pdftoppm" || need+=(poppler-utils)
# Debian's chromium and its matching chromium-driver: the console's browser tests (ADR 1300).
have chromium "/usr/bin/chromium" || need+=(chromium)
have chromedriver "/usr/bin/chromedriver" || need+=(chromium-driver)
# yara: the command line benchmarks/yara_scan.py measures yara-x against (ADR 0900).
have yara "/usr/bin/yara" || need+=(yara)
# haproxy: the load balancer in front of several `sovra up` processes (deploy/haproxy, issue 22).
have haproxy "/usr/sbin/haproxy" || need+=(haproxy)
# pg_auto_failover: PostgreSQL failover for the cluster profile's HA tests (ADR 2200).
have pg_autoctl "/usr/bin/pg_autoctl" || need+=(pg-auto-failover-cli postgresql-15-auto-failover)

if [ "${#need[@]}" -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
