#!/usr/bin/env bash
# PostgreSQL's archive_command: keep one finished WAL segment in the archive folder, for
# point-in-time recovery from a base backup (base-backup.sh, restore-pitr.sh).
#
#   archive_command = '/srv/shuyuan/deploy/backup/archive-wal.sh %p %f /var/backups/shuyuan/wal'
#
# Runs as the server's user, from its data folder. Exit 0 only once the segment is safely in
# the archive: PostgreSQL keeps it (and tries again) until then.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: archive-wal.sh %p %f ARCHIVE_DIR" >&2
    exit 2
fi
path="$1"
name="$2"
archive="$3"
target="$archive/$name"

if [[ -e "$target" ]]; then
    # Never overwrite (PostgreSQL's rule: `test ! -f`). The same bytes there already is the
    # server trying again after a crash between our copy and its note of it: done.
    if cmp -s -- "$path" "$target"; then
        exit 0
    fi
    echo "archive-wal: $target exists with other contents: not overwritten" >&2
    exit 1
fi
# Copied under a temporary name, flushed to disk, then renamed: a segment in the archive is
# always whole, whatever moment the machine stops at.
partial="$archive/.$name.partial"
cp -- "$path" "$partial"
sync -- "$partial"
mv -- "$partial" "$target"
sync -- "$archive"
