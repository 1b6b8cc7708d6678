#!/usr/bin/env bash
# Run the whole Backstop test suite: ./scripts/test.sh [extra cargo test args]
#
# - Starts a throwaway PostgreSQL cluster if server binaries are installed and exports
#   BACKSTOP_TEST_PG_URL (superuser URL; tests CREATE DATABASE one per test). Removed on exit.
# - Exports BACKSTOP_TEST_CHROMEDRIVER / BACKSTOP_TEST_CHROMIUM if chromium + chromedriver exist.
# - Runs `cargo test --workspace --locked "$@"`.
# - Then the Citus pass: starts a 3-node Citus cluster (coordinator + 2 workers, 4 shards) with
#   ../shared/tools/citus-cluster.sh (building Citus from ../shared/vendor/citus/ on first use),
#   exports BACKSTOP_TEST_CITUS_URL and runs the app's integration suite on it alone
#   (BACKSTOP_TEST_BACKENDS=citus; the browser walks are not repeated), printing its time.
#   Needs root (the tool runs the servers as the postgres user). Removed on exit.
#
# BACKSTOP_TEST_REQUIRE_PG=1 / BACKSTOP_TEST_REQUIRE_BROWSER=1 / BACKSTOP_TEST_REQUIRE_CITUS=1
# turn a skip into a failure (CI). BACKSTOP_TEST_CITUS=0 skips the Citus pass (when not required).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
# shellcheck source=scripts/pg-throwaway.sh
source scripts/pg-throwaway.sh

if [[ -t 1 ]]; then B=$'\e[1m' R=$'\e[1;31m' Y=$'\e[1;33m' G=$'\e[1;32m' N=$'\e[0m'; else B= R= Y= G= N=; fi
say()    { printf '%s==> %s%s\n' "$B" "$*" "$N"; }
banner() { # colour, lines...
    local c=$1; shift
    local bar='######################################################################'
    printf '\n%s%s\n' "$c" "$bar"
    local l; for l in "$@"; do printf '##  %s\n' "$l"; done
    printf '%s%s\n\n' "$bar" "$N"
}

child=""
citus_dir=""
citus_tool=../shared/tools/citus-cluster.sh
citus_cluster() { # the test cluster: its own folder and ports, 3 nodes, 4 shards
    CITUS_DIR=$citus_dir CITUS_BASE_PORT=${BACKSTOP_TEST_CITUS_PORT:-9750} CITUS_NODES=3 \
        CITUS_SHARD_COUNT=4 "$citus_tool" "$@"
}
cleanup() {
    local rc=$?
    # cargo runs in its own process group (set -m below): stop it and the test binaries.
    [[ -n "$child" ]] && kill -TERM -- "-$child" 2>/dev/null && wait "$child" 2>/dev/null
    pg_throwaway_stop
    [[ -n "$citus_dir" ]] && citus_cluster destroy >/dev/null 2>&1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP

# --- PostgreSQL ---------------------------------------------------------------------------
unset BACKSTOP_TEST_PG_URL
if pg_throwaway_find_bindir; then
    say "Starting a throwaway PostgreSQL cluster ($PG_THROWAWAY_BINDIR)"
    if ! pg_throwaway_start; then
        banner "$R" "FAILED to start the throwaway PostgreSQL cluster (see above)."
        exit 1
    fi
    say "BACKSTOP_TEST_PG_URL=$BACKSTOP_TEST_PG_URL"
else
    banner "$Y" \
        "PostgreSQL NOT FOUND — PostgreSQL tests will be SKIPPED" \
        "" \
        "No initdb/pg_ctl/postgres found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH)." \
        "Only the SQLite backend is tested. To test PostgreSQL too, install it, e.g." \
        "    apt-get install postgresql" \
        "or point BACKSTOP_PG_BINDIR at the directory holding initdb and pg_ctl."
    if [[ "${BACKSTOP_TEST_REQUIRE_PG:-0}" == 1 ]]; then
        echo "BACKSTOP_TEST_REQUIRE_PG=1: refusing to continue without PostgreSQL." >&2
        exit 1
    fi
fi

# --- Browser ------------------------------------------------------------------------------
unset BACKSTOP_TEST_CHROMEDRIVER BACKSTOP_TEST_CHROMIUM
find_exe() { # first executable among the candidates (absolute paths or names on PATH)
    local c p
    for c in "$@"; do
        p=$(command -v "$c" 2>/dev/null) || continue
        [[ -f "$p" && -x "$p" ]] && { echo "$p"; return 0; }
    done
    return 1
}
driver=$(find_exe /usr/bin/chromedriver chromedriver) || driver=""
browser=$(find_exe /usr/bin/chromium chromium chromium-browser google-chrome) || browser=""
if [[ -n "$driver" && -n "$browser" ]]; then
    export BACKSTOP_TEST_CHROMEDRIVER=$driver BACKSTOP_TEST_CHROMIUM=$browser
    say "Browser test: $("$browser" --version 2>/dev/null | head -1) via $driver"
else
    banner "$Y" \
        "Chromium/chromedriver NOT FOUND — the BROWSER test will be SKIPPED" \
        "" \
        "chromedriver: ${driver:-missing}   chromium: ${browser:-missing}" \
        "To run it:  apt-get install chromium chromium-driver"
    if [[ "${BACKSTOP_TEST_REQUIRE_BROWSER:-0}" == 1 ]]; then
        echo "BACKSTOP_TEST_REQUIRE_BROWSER=1: refusing to continue without a browser." >&2
        exit 1
    fi
fi

# --- cargo test ---------------------------------------------------------------------------
say "cargo test --workspace --locked $*"
# cargo runs as a background job in its own process group, and we wait for it: Ctrl-C or a
# TERM to this script then runs the EXIT trap at once, which stops the whole cargo process
# group (cargo and the test binaries) before the cluster is deleted. (Without `set -m` a
# background job would ignore SIGINT; in the foreground a TERM would wait for cargo to end.)
set -m
# Citus has a pass of its own below (BACKSTOP_TEST_REQUIRE_CITUS applies to that one).
BACKSTOP_TEST_BACKENDS=sqlite,postgres cargo test --workspace --locked "$@" &
child=$!
set +m
wait "$child"
rc=$?
child=""

# --- Citus ----------------------------------------------------------------------------------
# The integration suite again, on a real cluster. Only after the rest passed: a failure above
# is the one to read first.
citus_tarball=$(ls ../shared/vendor/citus/citus-*.tar.gz 2>/dev/null | sort | tail -1)
citus_skip=""
if [[ "${BACKSTOP_TEST_CITUS:-1}" == 0 && "${BACKSTOP_TEST_REQUIRE_CITUS:-0}" != 1 ]]; then
    citus_skip="BACKSTOP_TEST_CITUS=0"
elif [[ ! -x "$citus_tool" || -z "$citus_tarball" ]]; then
    citus_skip="no $citus_tool or no Citus source tarball in ../shared/vendor/citus/"
elif [[ $(id -u) -ne 0 ]]; then
    citus_skip="not root ($citus_tool runs the servers as the postgres user)"
fi
if [[ $rc -eq 0 && -z "$citus_skip" ]]; then
    citus_started=$SECONDS
    citus_dir=$(mktemp -u -d "${TMPDIR:-/tmp}/backstop-citus.XXXXXX")
    say "Starting a 3-node Citus cluster, 4 shards ($citus_dir)"
    if ! BACKSTOP_TEST_CITUS_URL=$(citus_cluster start "$citus_tarball"); then
        banner "$R" "FAILED to start the Citus cluster (see above)."
        exit 1
    fi
    export BACKSTOP_TEST_CITUS_URL
    say "BACKSTOP_TEST_CITUS_URL=$BACKSTOP_TEST_CITUS_URL"
    say "Citus pass: cargo test -p backstop-app --test it --locked $* (BACKSTOP_TEST_BACKENDS=citus)"
    set -m
    BACKSTOP_TEST_BACKENDS=citus BACKSTOP_TEST_REQUIRE_BROWSER=0 BACKSTOP_TEST_CHROMEDRIVER= \
        cargo test -p backstop-app --test it --locked "$@" &
    child=$!
    set +m
    wait "$child"
    rc=$?
    child=""
    say "Citus step: $((SECONDS - citus_started)) s (cluster start and the suite)"
elif [[ -n "$citus_skip" ]]; then
    banner "$Y" "Citus NOT RUN — the Citus pass was SKIPPED" "" "$citus_skip"
    if [[ "${BACKSTOP_TEST_REQUIRE_CITUS:-0}" == 1 ]]; then
        echo "BACKSTOP_TEST_REQUIRE_CITUS=1: refusing to pass without Citus." >&2
        exit 1
    fi
fi

if [[ $rc -eq 0 ]]; then
    summary="${G}cargo test passed${N}"
else
    summary="${R}cargo test FAILED (exit $rc)${N}"
fi
echo
say "$summary"
[[ -n "${BACKSTOP_TEST_PG_URL:-}" ]] || printf '%s    (PostgreSQL tests were SKIPPED: PostgreSQL not found)%s\n' "$Y" "$N"
[[ -z "$citus_skip" ]] || printf '%s    (Citus pass was SKIPPED: %s)%s\n' "$Y" "$citus_skip" "$N"
[[ -n "${BACKSTOP_TEST_CHROMEDRIVER:-}" ]] || printf '%s    (browser test was SKIPPED: chromium/chromedriver not found)%s\n' "$Y" "$N"
exit "$rc"
