#!/bin/sh
# Add Training Explorer to the desktop's application menu (Linux, freedesktop.org desktops), for
# the current user only: no root needed, and `sh assets/install-desktop-entry.sh --remove` undoes it.
#
#   sh assets/install-desktop-entry.sh [PATH-TO-training-explorer]
#
# The launcher runs the `training-explorer` command of the virtual environment it was installed into,
# found on PATH (activate the environment first) or given as the argument; menus do not activate it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
entry="$data/applications/training-explorer.desktop"
icon_dir="$data/icons/hicolor"

if [ "${1:-}" = "--remove" ]; then
    rm -f "$entry" "$icon_dir/scalable/apps/training-explorer.svg"
    for size in 48 128 256; do rm -f "$icon_dir/${size}x${size}/apps/training-explorer.png"; done
    echo "Removed Training Explorer from the application menu."
    exit 0
fi

command=${1:-$(command -v training-explorer || true)}
if [ -z "$command" ] || [ ! -x "$command" ]; then
    echo "Cannot find the training-explorer command: activate the environment it is installed in," >&2
    echo "or give its full path, e.g. sh $0 /path/to/.venv/bin/training-explorer" >&2
    exit 1
fi
command=$(cd "$(dirname "$command")" && pwd)/$(basename "$command")

mkdir -p "$data/applications" "$icon_dir/scalable/apps"
install -m 644 "$here/training-explorer.svg" "$icon_dir/scalable/apps/training-explorer.svg"
for size in 48 128 256; do
    mkdir -p "$icon_dir/${size}x${size}/apps"
    install -m 644 "$here/icons/$size.png" "$icon_dir/${size}x${size}/apps/training-explorer.png"
done
# The menu entry with the full path of this environment's command in Exec and TryExec.
sed -e "s|^Exec=training-explorer|Exec=\"$command\"|" -e "s|^TryExec=training-explorer|TryExec=$command|" \
    "$here/training-explorer.desktop" > "$entry"
chmod 644 "$entry"
# Menus pick the entry up by themselves; these refresh their caches at once where the tools exist.
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icon_dir" || true
echo "Installed $entry"
