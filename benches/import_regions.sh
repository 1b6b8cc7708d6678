#!/usr/bin/env bash
# Region-import benchmark: `backstop regions import` of the full national township and village
# tables against the raw database engine loading the same CSV files, in the same run.
#
#   benches/import_regions.sh [DATA_DIR]
#
# DATA_DIR holds streets.csv and villages.csv (default: ../shared/data/regions relative to the
# repository root). What is measured, and how to read it: docs/BENCHMARKS.md.
#
# Steps (each timed with /usr/bin/time -v: wall time and peak RSS of the client process):
#   1. cargo build --release -p backstop (benchmarks use release builds only);
#   2. SQLite:     backstop regions import (fresh data dir), then again (idempotent re-import);
#                  raw sqlite3: same table, `.import --csv` into temp staging tables, one
#                  INSERT…SELECT transaction (WAL, synchronous=FULL, foreign_keys=ON), then a
#                  re-import as INSERT…ON CONFLICT DO UPDATE from staging;
#   3. PostgreSQL (if server binaries exist, or BACKSTOP_BENCH_PG_URL names a superuser URL):
#                  backstop regions import into a fresh database, then again; raw psql:
#                  same table, `\copy` into temp staging tables, INSERT…SELECT in one
#                  transaction, then the upsert re-import. The throwaway cluster runs with
#                  fsync, synchronous_commit and full_page_writes ON (BACKSTOP_TEST_PG_FSYNC=on).
#   4. checks that both databases hold the same rows per level, prints the table.
#
# Knobs: BACKSTOP_BENCH_PG_URL (use this server instead of a throwaway cluster),
#        BACKSTOP_BENCH_SKIP_PG=1, BACKSTOP_BENCH_KEEP=1 (keep the work dir), CARGO_TARGET_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA_ARG=${1:-$ROOT/../shared/data/regions}
[[ -d $DATA_ARG ]] || { echo "no data directory $DATA_ARG" >&2; exit 2; }
DATA=$(cd "$DATA_ARG" && pwd)
ASSETS=$ROOT/assets/regions # the provinces/cities/counties backstop embeds
for f in "$DATA/streets.csv" "$DATA/villages.csv" "$ASSETS/provinces.csv" "$ASSETS/cities.csv" "$ASSETS/areas.csv"; do
    [[ -f $f ]] || { echo "missing $f" >&2; exit 2; }
done
for tool in /usr/bin/time sqlite3; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "missing $tool: apt-get install -y time sqlite3" >&2
        exit 2
    }
done

log() { printf '==> %s\n' "$*" >&2; }

# --- build --------------------------------------------------------------------------------
log "cargo build --release -p backstop"
(cd "$ROOT" && cargo build --release -p backstop)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/backstop
[[ -x $BIN ]] || { echo "no binary at $BIN" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/backstop-bench.XXXXXX")
chmod 755 "$WORK"
PG_STARTED=0
cleanup() {
    if (( PG_STARTED )); then pg_throwaway_stop; fi
    if [[ ${BACKSTOP_BENCH_KEEP:-0} == 1 ]]; then log "work dir kept: $WORK"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT

# Data rows (without the header line; the files have no quoted newlines).
N_STREETS=$(($(wc -l <"$DATA/streets.csv") - 1))
N_VILLAGES=$(($(wc -l <"$DATA/villages.csv") - 1))
ROWS=$((N_STREETS + N_VILLAGES))
NOW_MS=$(($(date +%s) * 1000))
log "data: $DATA ($N_STREETS townships + $N_VILLAGES villages = $ROWS rows)"

# --- measuring ----------------------------------------------------------------------------
RESULTS=() # "engine|what|seconds|peak_kb"

# measure ENGINE WHAT CMD...: run CMD under /usr/bin/time -v, record wall seconds and peak RSS.
measure() {
    local engine=$1 what=$2; shift 2
    local tag=${engine}_${what// /_}
    log "$engine / $what: $*"
    if ! /usr/bin/time -v -o "$WORK/$tag.time" "$@" >"$WORK/$tag.out" 2>"$WORK/$tag.err"; then
        echo "FAILED: $*" >&2
        cat "$WORK/$tag.out" "$WORK/$tag.err" >&2
        exit 1
    fi
    local secs kb
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' \
        "$WORK/$tag.time")
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/$tag.time")
    RESULTS+=("$engine|$what|$secs|$kb")
    sed 's/^/    /' "$WORK/$tag.out" >&2
}

# --- SQL of the raw baselines -------------------------------------------------------------
# The table is the one backstop's migration creates (crates/store/migrations/0001_foundation.sql).
DDL="CREATE TABLE regions (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    parent_code TEXT REFERENCES regions(code),
    created_at BIGINT NOT NULL
);
CREATE INDEX regions_parent ON regions(parent_code);"

# INSERT…SELECT from the staging tables s_p, s_c, s_a, s_s, s_v. $1: "" (first load) or the
# upsert clause (re-import; SQLite needs `WHERE true` before ON CONFLICT after a SELECT).
load_sql() {
    local up=$1 levels=$2
    local p="INSERT INTO regions (code, name, level, parent_code, created_at)"
    if [[ $levels == all ]]; then
        echo "$p SELECT code, name, 'province', NULL, $NOW_MS FROM s_p WHERE true $up;"
        echo "$p SELECT code, name, 'city', provinceCode, $NOW_MS FROM s_c WHERE true $up;"
        echo "$p SELECT code, name, 'county', cityCode, $NOW_MS FROM s_a WHERE true $up;"
    fi
    echo "$p SELECT code, name, 'township', areaCode, $NOW_MS FROM s_s WHERE true $up;"
    echo "$p SELECT code, name, 'village', streetCode, $NOW_MS FROM s_v WHERE true $up;"
}
UPSERT="ON CONFLICT (code) DO UPDATE SET name = excluded.name WHERE regions.name <> excluded.name"
STAGE_P="s_p (code TEXT, name TEXT)"
STAGE_C="s_c (code TEXT, name TEXT, provinceCode TEXT)"
STAGE_A="s_a (code TEXT, name TEXT, cityCode TEXT, provinceCode TEXT)"
STAGE_S="s_s (code TEXT, name TEXT, areaCode TEXT, provinceCode TEXT, cityCode TEXT)"
STAGE_V="s_v (code TEXT, name TEXT, streetCode TEXT, provinceCode TEXT, cityCode TEXT, areaCode TEXT)"

sqlite_script() { # first|again
    echo "PRAGMA journal_mode=WAL;"
    echo "PRAGMA synchronous=FULL;"
    echo "PRAGMA foreign_keys=ON;"
    local levels=townships
    if [[ $1 == first ]]; then
        echo "$DDL"
        levels=all
        echo "CREATE TEMP TABLE $STAGE_P; CREATE TEMP TABLE $STAGE_C; CREATE TEMP TABLE $STAGE_A;"
        echo ".import --csv --skip 1 --schema temp $ASSETS/provinces.csv s_p"
        echo ".import --csv --skip 1 --schema temp $ASSETS/cities.csv s_c"
        echo ".import --csv --skip 1 --schema temp $ASSETS/areas.csv s_a"
    fi
    echo "CREATE TEMP TABLE $STAGE_S; CREATE TEMP TABLE $STAGE_V;"
    echo ".import --csv --skip 1 --schema temp $DATA/streets.csv s_s"
    echo ".import --csv --skip 1 --schema temp $DATA/villages.csv s_v"
    echo "BEGIN;"
    if [[ $1 == first ]]; then load_sql "" "$levels"; else load_sql "$UPSERT" "$levels"; fi
    echo "COMMIT;"
    echo "SELECT 'regions: ' || COUNT(*) FROM regions;"
}

pg_script() { # first|again
    echo "\\set ON_ERROR_STOP on"
    local levels=townships
    [[ $1 == first ]] && { echo "$DDL"; levels=all; }
    echo "BEGIN;"
    if [[ $1 == first ]]; then
        echo "CREATE TEMP TABLE $STAGE_P ON COMMIT DROP; CREATE TEMP TABLE $STAGE_C ON COMMIT DROP; CREATE TEMP TABLE $STAGE_A ON COMMIT DROP;"
        echo "\\copy s_p FROM '$ASSETS/provinces.csv' WITH (FORMAT csv, HEADER true)"
        echo "\\copy s_c FROM '$ASSETS/cities.csv' WITH (FORMAT csv, HEADER true)"
        echo "\\copy s_a FROM '$ASSETS/areas.csv' WITH (FORMAT csv, HEADER true)"
    fi
    echo "CREATE TEMP TABLE $STAGE_S ON COMMIT DROP; CREATE TEMP TABLE $STAGE_V ON COMMIT DROP;"
    echo "\\copy s_s FROM '$DATA/streets.csv' WITH (FORMAT csv, HEADER true)"
    echo "\\copy s_v FROM '$DATA/villages.csv' WITH (FORMAT csv, HEADER true)"
    if [[ $1 == first ]]; then load_sql "" "$levels"; else load_sql "$UPSERT" "$levels"; fi
    echo "COMMIT;"
    echo "SELECT 'regions: ' || COUNT(*) FROM regions;"
}

COUNT_SQL="SELECT level || '=' || COUNT(*) FROM regions GROUP BY level ORDER BY level;"

# --- SQLite -------------------------------------------------------------------------------
export BACKSTOP_LOG=warn
unset BACKSTOP_DATABASE_URL BACKSTOP_DATA_DIR BACKSTOP_KEY_FILE
measure sqlite "backstop import" "$BIN" --data-dir "$WORK/bs-sqlite" regions import "$DATA"
measure sqlite "backstop re-import" "$BIN" --data-dir "$WORK/bs-sqlite" regions import "$DATA"
sqlite_script first >"$WORK/sqlite-first.sql"
sqlite_script again >"$WORK/sqlite-again.sql"
measure sqlite "raw import" sqlite3 -bail "$WORK/raw.db" ".read $WORK/sqlite-first.sql"
measure sqlite "raw re-import" sqlite3 -bail "$WORK/raw.db" ".read $WORK/sqlite-again.sql"
a=$(sqlite3 "$WORK/bs-sqlite/backstop.db" "$COUNT_SQL" | tr '\n' ' ')
b=$(sqlite3 "$WORK/raw.db" "$COUNT_SQL" | tr '\n' ' ')
log "sqlite rows: backstop [$a] raw [$b]"
[[ $a == "$b" ]] || { echo "row counts differ between backstop and the raw load" >&2; exit 1; }
log "sqlite file sizes: backstop $(du -sh "$WORK/bs-sqlite" | cut -f1), raw $(du -sh "$WORK/raw.db" | cut -f1)"

# --- PostgreSQL ---------------------------------------------------------------------------
PG_ADMIN=""
if [[ ${BACKSTOP_BENCH_SKIP_PG:-0} == 1 ]]; then
    log "PostgreSQL skipped (BACKSTOP_BENCH_SKIP_PG=1)"
elif [[ -n ${BACKSTOP_BENCH_PG_URL:-} ]]; then
    PG_ADMIN=$BACKSTOP_BENCH_PG_URL
else
    # shellcheck source=scripts/pg-throwaway.sh
    source "$ROOT/scripts/pg-throwaway.sh"
    if pg_throwaway_find_bindir; then
        export BACKSTOP_TEST_PG_FSYNC=on
        BACKSTOP_TEST_PG_PORT=${BACKSTOP_TEST_PG_PORT:-56432}
        export BACKSTOP_TEST_PG_PORT
        pg_throwaway_start || exit 1
        PG_STARTED=1
        PG_ADMIN=$BACKSTOP_TEST_PG_URL
    else
        log "PostgreSQL SKIPPED: no server binaries (apt-get install postgresql)"
    fi
fi
if [[ -n $PG_ADMIN ]]; then
    command -v psql >/dev/null 2>&1 || { echo "missing psql" >&2; exit 2; }
    base=${PG_ADMIN%/*}
    log "PostgreSQL: $(psql -X -At "$PG_ADMIN" -c 'SHOW server_version') fsync=$(psql -X -At "$PG_ADMIN" -c 'SHOW fsync') synchronous_commit=$(psql -X -At "$PG_ADMIN" -c 'SHOW synchronous_commit')"
    for db in bench_backstop bench_raw; do
        psql -X -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    done
    measure postgres "backstop import" "$BIN" --data-dir "$WORK/bs-pg" \
        --database-url "$base/bench_backstop" regions import "$DATA"
    measure postgres "backstop re-import" "$BIN" --data-dir "$WORK/bs-pg" \
        --database-url "$base/bench_backstop" regions import "$DATA"
    pg_script first >"$WORK/pg-first.sql"
    pg_script again >"$WORK/pg-again.sql"
    measure postgres "raw import" psql -X -q "$base/bench_raw" -f "$WORK/pg-first.sql"
    measure postgres "raw re-import" psql -X -q "$base/bench_raw" -f "$WORK/pg-again.sql"
    a=$(psql -X -At "$base/bench_backstop" -c "$COUNT_SQL" | tr '\n' ' ')
    b=$(psql -X -At "$base/bench_raw" -c "$COUNT_SQL" | tr '\n' ' ')
    log "postgres rows: backstop [$a] raw [$b]"
    [[ $a == "$b" ]] || { echo "row counts differ between backstop and the raw load" >&2; exit 1; }
    if [[ -n ${BACKSTOP_BENCH_PG_URL:-} ]]; then # not a throwaway cluster: tidy up
        psql -X -q "$PG_ADMIN" -c "DROP DATABASE bench_backstop" -c "DROP DATABASE bench_raw"
    fi
fi

# --- report -------------------------------------------------------------------------------
secs_of() { # engine what
    local r
    for r in "${RESULTS[@]}"; do
        IFS='|' read -r e w s _ <<<"$r"
        [[ $e == "$1" && $w == "$2" ]] && { echo "$s"; return; }
    done
}
echo
echo "machine: $(nproc) CPUs, $(free -h | awk '/^Mem:/ {print $2}') RAM, $(uname -sr); backstop $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "rows: $ROWS ($N_STREETS townships + $N_VILLAGES villages; both sides also hold the 3,351 embedded upper-level rows)"
echo
printf '| %-8s | %-18s | %9s | %8s | %10s | %12s | %18s |\n' engine run rows seconds rows/s "peak RSS MB" "ratio backstop/raw"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ---------- -------------------- ----------: ---------: -----------: -------------: --------------------:
for r in "${RESULTS[@]}"; do
    IFS='|' read -r e w s kb <<<"$r"
    ratio=""
    if [[ $w == backstop* ]]; then
        raw=$(secs_of "$e" "raw${w#backstop}")
        [[ -n $raw ]] && ratio=$(awk -v a="$s" -v b="$raw" 'BEGIN { if (b > 0) printf "%.1fx", a / b }')
    fi
    rps=$(awk -v n="$ROWS" -v s="$s" 'BEGIN { if (s > 0) printf "%d", n / s }')
    mb=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
    printf '| %-8s | %-18s | %9d | %8s | %10s | %12s | %18s |\n' "$e" "$w" "$ROWS" "$s" "$rps" "$mb" "$ratio"
done
