#!/usr/bin/env bash
# The nightly logical backup: one `pg_dump -Fc` of the database, checked readable, then every
# dump older than BACKUP_KEEP_DAYS (30 at most: docs/privacy.md) deleted. docs/backups.md.
#
#   BACKUP_DATABASE_URL  the database to dump (default DATABASE_DIRECT_URL, then DATABASE_URL):
#                        PostgreSQL itself, never PgBouncer
#   BACKUP_DIR           where dumps/ is kept (default /var/backups/shuyuan)
#   BACKUP_KEEP_DAYS     how many days a dump is kept (default 30, at most 30)
set -euo pipefail

url="${BACKUP_DATABASE_URL:-${DATABASE_DIRECT_URL:-${DATABASE_URL:-}}}"
dir="${BACKUP_DIR:-/var/backups/shuyuan}/dumps"
keep="${BACKUP_KEEP_DAYS:-30}"
if [[ -z "$url" ]]; then
    echo "dump-database: set BACKUP_DATABASE_URL (or DATABASE_DIRECT_URL)" >&2
    exit 2
fi
if ! [[ "$keep" =~ ^[0-9]+$ ]] || ((keep < 1 || keep > 30)); then
    echo "dump-database: BACKUP_KEEP_DAYS must be 1 to 30 (backups live 30 days at most)" >&2
    exit 2
fi

umask 077  # a dump holds every member's personal data
mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$dir/shuyuan-$stamp.dump"
partial="$dir/.shuyuan-$stamp.dump.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --file="$partial" --dbname="$url"
# A dump that pg_restore cannot list is no backup: fail now, not on the day it is needed.
pg_restore --list "$partial" >/dev/null
sync "$partial"
mv "$partial" "$final"
echo "dump-database: $final ($(du -h "$final" | cut -f1))"

# A run killed before its trap ran leaves its partial file: gone after a day.
find "$dir" -maxdepth 1 -name '.shuyuan-*.dump.partial' -mmin +1440 -delete

# Retention by the time in the name (a copy's mtime may not be the dump's), and only after
# tonight's dump succeeded, so the newest dump is never the one deleted.
cutoff="$(date -u -d "-$keep days" +%Y%m%dT%H%M%SZ)"
for old in "$dir"/shuyuan-*.dump; do
    [[ -e "$old" ]] || continue
    taken="${old##*/shuyuan-}"
    taken="${taken%.dump}"
    if [[ "$taken" < "$cutoff" ]]; then
        rm -f -- "$old"
        echo "dump-database: deleted $old (older than $keep days)"
    fi
done
