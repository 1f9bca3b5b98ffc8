#!/usr/bin/env bash
# Lay out a data folder that recovers to a chosen moment: a base backup of base-backup.sh,
# the WAL of archive-wal.sh replayed up to a time or a named restore point, then promoted.
# It does not start the server: start it on the new folder and it recovers by itself.
# docs/backups.md has the whole procedure.
#
#   restore-pitr.sh BASE_BACKUP WAL_DIR NEW_DATA_DIR --time '2025-03-01 09:41:00+00'
#   restore-pitr.sh BASE_BACKUP WAL_DIR NEW_DATA_DIR --name before-the-import
#   restore-pitr.sh BASE_BACKUP WAL_DIR NEW_DATA_DIR --latest
#
# Run it as the server's user (postgres). BASE_BACKUP is one folder of BACKUP_DIR/base/, the
# newest one taken before the target; NEW_DATA_DIR must not exist or be empty.
set -euo pipefail

usage() {
    echo "usage: restore-pitr.sh BASE_BACKUP WAL_DIR NEW_DATA_DIR (--time T | --name N | --latest)" >&2
    exit 2
}
[[ $# -ge 4 ]] || usage
base="$1"
wal="$(cd "$2" && pwd)"
data="$3"
case "$4" in
--time) [[ $# -eq 5 ]] || usage; target="recovery_target_time = '$5'" ;;
--name) [[ $# -eq 5 ]] || usage; target="recovery_target_name = '$5'" ;;
--latest) [[ $# -eq 4 ]] || usage; target="" ;;
*) usage ;;
esac
if [[ "${5:-}" == *"'"* ]]; then
    echo "restore-pitr: a target with a quote in it" >&2
    exit 2
fi
for file in base.tar.gz pg_wal.tar.gz; do
    if [[ ! -f "$base/$file" ]]; then
        echo "restore-pitr: $base/$file missing: not a backup of base-backup.sh" >&2
        exit 1
    fi
done
if [[ -e "$data" && -n "$(ls -A "$data")" ]]; then
    echo "restore-pitr: $data is not empty" >&2
    exit 1
fi

mkdir -p "$data"
chmod 700 "$data"
tar -xzf "$base/base.tar.gz" -C "$data"
mkdir -p "$data/pg_wal"
tar -xzf "$base/pg_wal.tar.gz" -C "$data/pg_wal"
# postgresql.auto.conf is read after postgresql.conf: these lines win. The server's own
# archive_command stays, so the new timeline it starts after promotion is archived too.
{
    echo "# restore-pitr.sh, $(date -u +%FT%TZ): from $base"
    echo "restore_command = 'cp \"$wal/%f\" \"%p\"'"
    if [[ -n "$target" ]]; then
        echo "$target"
        echo "recovery_target_action = 'promote'"
    fi
} >>"$data/postgresql.auto.conf"
touch "$data/recovery.signal"
echo "restore-pitr: $data is ready: start the server on it; it replays the WAL${target:+ to $5} and opens"
