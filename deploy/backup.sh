#!/bin/sh
# deploy/backup.sh: one backup of the register with `personvern backup --out`, then backups older than
# PERSONVERN_BACKUP_KEEP_DAYS days deleted; run nightly by personvern-backup.timer as the personvern user.
# An erased person stays in every backup taken before the erasure until that backup is deleted (README,
# "Backups"): keep them no longer than the restore plan needs (GDPR 5(1)(e), 17).
set -eu

PERSONVERN=${PERSONVERN:-/opt/personvern/bin/personvern}
DIR=${PERSONVERN_BACKUP_DIR:-/var/backups/personvern}
KEEP_DAYS=${PERSONVERN_BACKUP_KEEP_DAYS:-14}

case $KEEP_DAYS in
    '' | *[!0-9]*) echo "backup.sh: PERSONVERN_BACKUP_KEEP_DAYS must be a whole number of days, not '$KEEP_DAYS'" >&2; exit 2 ;;
esac

umask 077
mkdir -p "$DIR"
out="$DIR/personvern-$(date -u +%Y%m%dT%H%M%SZ).pvbackup"
partial="$out.partial"
trap 'rm -f "$partial"' EXIT

# Written under another name first: a backup that failed half-way never looks like one that can be restored,
# and the old ones are pruned only once this one is whole.
"$PERSONVERN" backup --out "$partial"
mv "$partial" "$out"
trap - EXIT
echo "backup.sh: wrote $out"

find "$DIR" -maxdepth 1 -type f -name 'personvern-*.pvbackup' -mtime +"$KEEP_DAYS" -print -delete |
    sed 's/^/backup.sh: deleted (older than '"$KEEP_DAYS"' days) /'
