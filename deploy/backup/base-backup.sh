#!/usr/bin/env bash
# The weekly physical backup for point-in-time recovery: a base backup of the whole cluster
# (pg_basebackup, tar, gzip, its WAL streamed alongside), then base backups older than
# BACKUP_KEEP_DAYS deleted (30 at most: docs/privacy.md) and the WAL archive trimmed to what
# the oldest kept base backup needs. With archive-wal.sh as archive_command, any moment since
# the oldest kept base backup can be restored (restore-pitr.sh). docs/backups.md.
#
#   BACKUP_DATABASE_URL  a replication connection's address (default DATABASE_DIRECT_URL):
#                        a superuser or a REPLICATION role, allowed by pg_hba.conf
#   BACKUP_DIR           where base/ and wal/ are kept (default /var/backups/shuyuan)
#   BACKUP_WAL_DIR       the WAL archive archive-wal.sh fills (default BACKUP_DIR/wal)
#   BACKUP_KEEP_DAYS     how many days a base backup is kept (default 30, at most 30)
set -euo pipefail

url="${BACKUP_DATABASE_URL:-${DATABASE_DIRECT_URL:-}}"
root="${BACKUP_DIR:-/var/backups/shuyuan}"
dir="$root/base"
wal="${BACKUP_WAL_DIR:-$root/wal}"
keep="${BACKUP_KEEP_DAYS:-30}"
if [[ -z "$url" ]]; then
    echo "base-backup: set BACKUP_DATABASE_URL (or DATABASE_DIRECT_URL)" >&2
    exit 2
fi
if ! [[ "$keep" =~ ^[0-9]+$ ]] || ((keep < 1 || keep > 30)); then
    echo "base-backup: BACKUP_KEEP_DAYS must be 1 to 30 (backups live 30 days at most)" >&2
    exit 2
fi

umask 077
mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
partial="$dir/.$stamp.partial"
trap 'rm -rf "$partial"' EXIT

# -X stream: the WAL written during the copy comes along (pg_wal.tar.gz), so the backup is
# consistent by itself even before the archive has those segments.
pg_basebackup --dbname="$url" --pgdata="$partial" --format=tar --gzip \
    --wal-method=stream --checkpoint=fast --label="shuyuan $stamp" --no-password
# The first WAL segment a restore of this backup needs (from its backup_label): the archive
# is trimmed to it when this is the oldest backup kept.
tar -xzOf "$partial/base.tar.gz" backup_label \
    | sed -n 's/^START WAL LOCATION: .* (file \([0-9A-F]\{24\}\))$/\1/p' >"$partial/START_WAL"
if ! [[ -s "$partial/START_WAL" ]]; then
    echo "base-backup: no START WAL LOCATION in the backup's backup_label" >&2
    exit 1
fi
sync -- "$partial"/*
mv "$partial" "$dir/$stamp"
echo "base-backup: $dir/$stamp ($(du -sh "$dir/$stamp" | cut -f1))"

# Retention by the time in the name, after tonight's backup succeeded (never the newest).
cutoff="$(date -u -d "-$keep days" +%Y%m%dT%H%M%SZ)"
find "$dir" -maxdepth 1 -name '.*.partial' -mmin +1440 -exec rm -rf {} +
for old in "$dir"/*Z; do
    [[ -d "$old" ]] || continue
    if [[ "${old##*/}" < "$cutoff" ]]; then
        rm -rf -- "$old"
        echo "base-backup: deleted $old (older than $keep days)"
    fi
done
# WAL older than the oldest kept backup's first segment can restore nothing any more.
oldest="$(find "$dir" -mindepth 1 -maxdepth 1 -type d -name '*Z' | sort | head -n 1)"
if [[ -n "$oldest" && -d "$wal" ]]; then
    pg_archivecleanup "$wal" "$(cat "$oldest/START_WAL")"
fi
