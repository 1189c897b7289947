#!/usr/bin/env bash
# Peer benchmark: the same N (default 200) one-page Eingangsbestätigungen
#  - by amtspost's Serienbrief (`letter render --rows`, all cores),
#  - by LibreOffice headless: one `soffice --convert-to pdf` process for all
#    N HTML letters (Debian: apt-get install libreoffice-writer-nogui),
#  - by the typst CLI, one `typst compile` per letter, where it is installed.
# Prints wall time, CPU time (user + system) and peak memory of each, and the
# ratios to amtspost, side by side from one run. Installs nothing.
#
# Usage: cargo build --release && benches/peers/run.sh [N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-200}
amtspost=${PEERS_BIN:-$root/target/release/amtspost}
[ -x "$amtspost" ] || { echo "no $amtspost: run cargo build --release first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package time)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/make_inputs.py" "$n" "$work" "$root"

# measure LABEL COMMAND...: wall s, user s, sys s, peak RSS kB into $work/LABEL.time
measure() {
    local label=$1
    shift
    if ! /usr/bin/time -f "%e %U %S %M" -o "$work/$label.time" "$@" >"$work/$label.log" 2>&1; then
        echo "$label failed:" >&2
        tail -20 "$work/$label.log" >&2
        exit 1
    fi
}
count() { find "$1" -name '*.pdf' | wc -l; }

measure amtspost "$amtspost" letter render eingangsbestaetigung --data "$work/gemeinsam.json" \
    --rows "$work/rows.csv" --out-dir "$work/out-amtspost" --name-by reference.ours --date 2013-04-18
peers="amtspost"
[ "$(count "$work/out-amtspost")" -eq "$n" ] || { echo "amtspost wrote $(count "$work/out-amtspost") of $n" >&2; exit 1; }

if command -v soffice >/dev/null; then
    mkdir -p "$work/out-libreoffice"
    HOME="$work/lo-home" measure libreoffice soffice --headless --norestore --nolockcheck \
        --convert-to pdf:writer_web_pdf_Export --outdir "$work/out-libreoffice" "$work"/html/*.html
    [ "$(count "$work/out-libreoffice")" -eq "$n" ] || { echo "LibreOffice wrote $(count "$work/out-libreoffice") of $n" >&2; exit 1; }
    peers="$peers libreoffice"
else
    echo "LibreOffice not installed (Debian: apt-get install libreoffice-writer-nogui): left out" >&2
fi

if command -v typst >/dev/null; then
    measure typst bash -c 'for d in "$1"/typst/*/; do
        typst compile --root "$d" --font-path "$d/templates/fonts" --ignore-system-fonts \
            "$d/templates/eingangsbestaetigung.typ" "$d/out.pdf" || exit 1; done' _ "$work"
    peers="$peers typst-cli"
    cp "$work/typst.time" "$work/typst-cli.time"
else
    echo "typst CLI not installed: left out" >&2
fi

python3 - "$work" "$n" $peers <<'PY'
import sys
work, n, peers = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = {}
for p in peers:
    wall, user, sys_, rss = open(f"{work}/{p}.time").read().split()[-4:]
    rows[p] = (float(wall), float(user) + float(sys_), int(rss) / 1024)
base = rows["amtspost"]
print(f"{n} one-page letters, one run on this machine")
print(f"{'':<12} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'letters/s':>10} {'wall ×':>7} {'CPU ×':>7}")
for p, (wall, cpu, rss) in rows.items():
    print(f"{p:<12} {wall:>8.2f} {cpu:>8.2f} {rss:>8.0f} {n / max(wall, 1e-9):>10.0f} {wall / max(base[0], 1e-9):>7.1f} {cpu / max(base[1], 1e-9):>7.1f}")
PY
