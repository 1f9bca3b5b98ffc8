#!/usr/bin/env bash
# Restore one dump of dump-database.sh into an empty database, all of it or nothing: the
# first error stops it and nothing is left half-restored. docs/backups.md says what follows
# (erasures to apply again, the storage, the app pointed at it).
#
#   restore-dump.sh DUMP DATABASE_URL
#
# DATABASE_URL names a database that exists and is empty (createdb -O shuyuan NAME). The
# objects belong to the user of DATABASE_URL (--no-owner), whoever owned them before.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: restore-dump.sh DUMP DATABASE_URL" >&2
    exit 2
fi
dump="$1"
url="$2"
tables="$(psql --dbname="$url" --no-psqlrc --tuples-only --no-align --command \
    "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
if [[ "$tables" != 0 ]]; then
    echo "restore-dump: the database has $tables tables already: restore into an empty one" >&2
    exit 1
fi
pg_restore --exit-on-error --single-transaction --no-owner --no-privileges \
    --dbname="$url" "$dump"
psql --dbname="$url" --no-psqlrc --quiet --command "ANALYZE"
echo "restore-dump: $dump restored"
