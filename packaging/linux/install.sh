#!/bin/sh
# Install the unpacked bundle for the current user (or system-wide with PREFIX=/opt as root):
#   ./install.sh            -> ~/.local/opt/cxr-explain, ~/.local/bin/cxr-explain, menu entry
#   ./install.sh --uninstall
# Run it from inside the unpacked cxr-explain folder (the one holding the cxr-explain executable).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ] && [ -z "${PREFIX:-}" ]; then PREFIX=/opt; fi
prefix=${PREFIX:-$HOME/.local/opt}
if [ "$prefix" = /opt ]; then share=/usr/local/share; bin=/usr/local/bin
else share=${XDG_DATA_HOME:-$HOME/.local/share}; bin=$HOME/.local/bin; fi
target=$prefix/cxr-explain
desktop=$share/applications/cxr-explain.desktop
icon=$share/icons/hicolor/256x256/apps/cxr-explain.png

if [ "${1:-}" = --uninstall ]; then
    rm -rf "$target" "$desktop" "$icon" "$bin/cxr-explain"
    echo "removed $target"
    exit 0
fi
[ -x "$here/cxr-explain" ] || { echo "error: run install.sh from the unpacked bundle" >&2; exit 2; }
if [ "$here" != "$target" ]; then
    mkdir -p "$prefix"
    rm -rf "$target"
    cp -a "$here" "$target"
fi
mkdir -p "$bin" "$(dirname "$desktop")" "$(dirname "$icon")"
ln -sf "$target/cxr-explain" "$bin/cxr-explain"
cp "$target/cxr-explain.png" "$icon"
sed -e "s|^Exec=.*|Exec=\"$target/cxr-explain\" view %f|" -e "s|^Icon=.*|Icon=$icon|" \
    "$target/cxr-explain.desktop" > "$desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$(dirname "$desktop")" || true
echo "installed $target; command: $bin/cxr-explain; menu entry: $desktop"
