#!/bin/sh
# deploy/backup.sh: the nightly backups, run by personvern-backup.timer as the personvern user. Two files, kept
# apart and for different times (README, "The key store apart"):
#   the data (`personvern backup --data-only`)   in PERSONVERN_BACKUP_DIR,      kept PERSONVERN_BACKUP_KEEP_DAYS (90)
#   the keys (`personvern backup --keys-only`)   in PERSONVERN_KEYS_BACKUP_DIR, kept PERSONVERN_KEYS_BACKUP_KEEP_DAYS (7)
# A person erased today is unreadable in every data backup once the last key backup holding their key is gone:
# the key backups' short life is what makes a long-kept data backup safe (GDPR 5(1)(e), 17). Put the key
# backups somewhere else than the data backups (another disk or machine).
set -eu

PERSONVERN=${PERSONVERN:-/opt/personvern/bin/personvern}
DIR=${PERSONVERN_BACKUP_DIR:-/var/backups/personvern}
KEEP_DAYS=${PERSONVERN_BACKUP_KEEP_DAYS:-90}
KEYS_DIR=${PERSONVERN_KEYS_BACKUP_DIR:-$DIR/keys}
KEYS_KEEP_DAYS=${PERSONVERN_KEYS_BACKUP_KEEP_DAYS:-7}

for pair in "PERSONVERN_BACKUP_KEEP_DAYS=$KEEP_DAYS" "PERSONVERN_KEYS_BACKUP_KEEP_DAYS=$KEYS_KEEP_DAYS"; do
    case ${pair#*=} in
        '' | *[!0-9]*) echo "backup.sh: ${pair%%=*} must be a whole number of days, not '${pair#*=}'" >&2; exit 2 ;;
    esac
done

umask 077
stamp=$(date -u +%Y%m%dT%H%M%SZ)

# One part: written under another name first, so that a backup that failed half-way never looks like one that
# can be restored, and the old ones of that part are pruned only once the new one is whole.
one() {
    part=$1 dir=$2 keep=$3
    mkdir -p "$dir"
    out="$dir/personvern-$part-$stamp.pvbackup"
    partial="$out.partial"
    trap 'rm -f "$partial"' EXIT
    "$PERSONVERN" backup --out "$partial" "--$part-only"
    mv "$partial" "$out"
    trap - EXIT
    echo "backup.sh: wrote $out"
    find "$dir" -maxdepth 1 -type f -name "personvern-$part-*.pvbackup" -mtime +"$keep" -print -delete |
        sed 's/^/backup.sh: deleted (older than '"$keep"' days) /'
}

one data "$DIR" "$KEEP_DAYS"
one keys "$KEYS_DIR" "$KEYS_KEEP_DAYS"
