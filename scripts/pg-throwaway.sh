#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests.
#
# Sourced by scripts/test.sh, which calls:
#   pg_throwaway_find_bindir   -> sets PG_THROWAWAY_BINDIR (returns 1 if no server binaries)
#   pg_throwaway_start         -> initdb + start, exports BACKSTOP_TEST_PG_URL
#   pg_throwaway_stop          -> stop + delete (idempotent; call it from an EXIT trap)
#
# Can also be run directly:
#   scripts/pg-throwaway.sh --shell         # interactive shell with BACKSTOP_TEST_PG_URL set
#   scripts/pg-throwaway.sh -- CMD [ARG..]  # run one command against a fresh cluster
# The cluster lives in a mktemp dir and is stopped and deleted when the command/shell exits.
#
# Knobs: BACKSTOP_PG_BINDIR (where initdb/pg_ctl live), BACKSTOP_TEST_PG_PORT (first port to try,
# default 55432), BACKSTOP_TEST_PG_FSYNC (on|off, default off: the cluster is thrown away anyway),
# BACKSTOP_TEST_PG_SHARED_BUFFERS (default 128MB, PostgreSQL's own default; benchmarks may raise it).

PG_THROWAWAY_BINDIR=""
PG_THROWAWAY_DIR=""
PG_THROWAWAY_PORT=""

_pgt_log() { printf '[pg-throwaway] %s\n' "$*" >&2; }

_pgt_has_server() { [[ -n "$1" && -x "$1/initdb" && -x "$1/pg_ctl" && -x "$1/postgres" ]]; }

pg_throwaway_find_bindir() {
    local d
    if [[ -n "${BACKSTOP_PG_BINDIR:-}" ]] && _pgt_has_server "$BACKSTOP_PG_BINDIR"; then
        PG_THROWAWAY_BINDIR=$BACKSTOP_PG_BINDIR; return 0
    fi
    # pg_config ships with libpq-dev and may point at a bindir without server binaries: check.
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if _pgt_has_server "$d"; then PG_THROWAWAY_BINDIR=$d; return 0; fi
    fi
    # Debian/Ubuntu layout; newest major version first.
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
        if _pgt_has_server "$d"; then PG_THROWAWAY_BINDIR=$d; return 0; fi
    done
    # Anything on PATH (Homebrew, Fedora, ...).
    if command -v initdb >/dev/null 2>&1; then
        d=$(dirname "$(command -v initdb)")
        if _pgt_has_server "$d"; then PG_THROWAWAY_BINDIR=$d; return 0; fi
    fi
    return 1
}

# Run a PostgreSQL server binary as a non-root user (initdb/postgres refuse to run as root).
_pgt_run() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

_pgt_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_throwaway_start() {
    if [[ -z "$PG_THROWAWAY_BINDIR" ]]; then
        pg_throwaway_find_bindir || { _pgt_log "no PostgreSQL server binaries found"; return 1; }
    fi
    local bin=$PG_THROWAWAY_BINDIR
    if [[ $(id -u) -eq 0 ]]; then
        if ! id -u postgres >/dev/null 2>&1; then
            _pgt_log "creating system user 'postgres' (initdb refuses to run as root)"
            useradd -r -M -d /nonexistent -s /usr/sbin/nologin postgres || return 1
        fi
        # /tmp so that the postgres user can traverse the parent directory.
        PG_THROWAWAY_DIR=$(mktemp -d /tmp/backstop-pg.XXXXXX) || return 1
        chown postgres: "$PG_THROWAWAY_DIR" || return 1
    else
        PG_THROWAWAY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/backstop-pg.XXXXXX") || return 1
    fi
    local dir=$PG_THROWAWAY_DIR
    _pgt_run mkdir -m 700 "$dir/sock" || return 1

    if ! _pgt_run "$bin/initdb" -D "$dir/data" -U postgres -A trust --encoding=UTF8 --locale=C \
            --no-sync >"$dir/initdb.log" 2>&1; then
        _pgt_log "initdb failed:"; cat "$dir/initdb.log" >&2
        return 1
    fi

    local fsync=${BACKSTOP_TEST_PG_FSYNC:-off} port=${BACKSTOP_TEST_PG_PORT:-55432}
    local buffers=${BACKSTOP_TEST_PG_SHARED_BUFFERS:-128MB}
    # BACKSTOP_TEST_PG_OPTS: further server settings ("-c name=value ..."), for measurements.
    local last=$((port + 200)) attempts=0
    while (( port <= last )); do
        if _pgt_port_busy "$port"; then port=$((port + 1)); continue; fi
        if _pgt_run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
                -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c max_connections=300 -c shared_buffers=$buffers -c fsync=$fsync -c synchronous_commit=$fsync -c full_page_writes=$fsync ${BACKSTOP_TEST_PG_OPTS:-}" \
                >"$dir/pg_ctl.log" 2>&1; then
            PG_THROWAWAY_PORT=$port
            export BACKSTOP_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
            _pgt_log "$("$bin/postgres" --version) running on 127.0.0.1:$port (data in $dir)"
            return 0
        fi
        attempts=$((attempts + 1))
        # Lost a race for the port? Try the next one; anything else: give up after a few tries.
        if (( attempts >= 5 )) || ! grep -q 'could not bind\|Address already in use' "$dir/server.log" 2>/dev/null; then
            _pgt_log "pg_ctl start failed:"; cat "$dir/pg_ctl.log" "$dir/server.log" >&2 2>/dev/null
            return 1
        fi
        port=$((port + 1))
    done
    _pgt_log "no free port found"
    return 1
}

pg_throwaway_stop() {
    local dir=$PG_THROWAWAY_DIR
    [[ -n "$dir" ]] || return 0
    PG_THROWAWAY_DIR=""
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        _pgt_run "$PG_THROWAWAY_BINDIR/pg_ctl" -D "$dir/data" -w -t 30 -m fast stop >/dev/null 2>&1 \
            || _pgt_run "$PG_THROWAWAY_BINDIR/pg_ctl" -D "$dir/data" -w -m immediate stop >/dev/null 2>&1 \
            || _pgt_log "warning: could not stop the server in $dir"
    fi
    rm -rf -- "$dir"
    unset BACKSTOP_TEST_PG_URL
}

# Direct execution: --shell or -- CMD...
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -uo pipefail
    case "${1:-}" in
        --shell) shift; cmd=("${SHELL:-bash}") ;;
        --) shift; (( $# )) || { echo "usage: $0 --shell | -- CMD [ARG..]" >&2; exit 2; }; cmd=("$@") ;;
        *) echo "usage: $0 --shell | -- CMD [ARG..]" >&2; exit 2 ;;
    esac
    trap pg_throwaway_stop EXIT
    trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
    pg_throwaway_start || exit 1
    echo "BACKSTOP_TEST_PG_URL=$BACKSTOP_TEST_PG_URL" >&2
    if [[ ${cmd[0]} == "${SHELL:-bash}" && $# -eq 0 ]]; then
        "${cmd[@]}"   # interactive: keep it in the foreground
        exit $?
    fi
    # Background + wait so that a TERM to this script is handled at once.
    "${cmd[@]}" &
    child=$!
    trap 'kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; pg_throwaway_stop' EXIT
    wait "$child"
    exit $?
fi
