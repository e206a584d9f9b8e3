#!/bin/sh
# Make a Docker daemon available for the integration tests (idempotent, safe to run many times).
#
#  1. install Debian's docker.io, docker-registry and busybox-static when a tool is missing
#     (apt-get update first, non-interactive; needs root or passwordless sudo);
#  2. start dockerd in the background when the socket does not answer (log: $DOCKERD_LOG);
#  3. wait up to $DOCKER_WAIT seconds (default 60) for `docker info` to work.
#
# Environment: DOCKERD_LOG (default /tmp/dockerd.log), DOCKER_WAIT (60), DOCKERD_FLAGS (extra dockerd flags).
#
# It prints one clear line either way and ALWAYS exits 0: it must never fail the test command by itself.
# When the daemon is not available, the tests marked `docker` skip with a loud reason instead.
# A DOCKER_HOST pointing elsewhere is honoured: then nothing is installed or started, only checked.

DOCKERD_LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
DOCKERD_FLAGS="${DOCKERD_FLAGS:-}"  # extra dockerd flags, e.g. --storage-driver=vfs where overlay2 fails
DOCKER_WAIT="${DOCKER_WAIT:-60}"
SOCK=/var/run/docker.sock

say() { printf 'ensure-docker: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 126
    fi
}

daemon_answers() {
    command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

install_missing() {
    missing=""
    command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
    command -v docker >/dev/null 2>&1 || case "$missing" in *docker.io*) ;; *) missing="$missing docker.io" ;; esac
    [ -x /usr/bin/docker-registry ] || missing="$missing docker-registry"
    [ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || missing="$missing busybox-static"
    # busybox (dynamic) is not enough for images: the tests copy /bin/busybox into a bare rootfs.
    if [ -x /bin/busybox ] && ! file_is_static /bin/busybox; then missing="$missing busybox-static"; fi
    [ -z "$missing" ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        say "missing:$missing and no apt-get here; install them by hand"
        return 0
    fi
    say "installing:$missing (apt-get, log /tmp/ensure-docker-apt.log)"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get update >/tmp/ensure-docker-apt.log 2>&1; then
        say "apt-get update failed (see /tmp/ensure-docker-apt.log)"
    fi
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing \
        >>/tmp/ensure-docker-apt.log 2>&1; then
        say "apt-get install$missing failed (see /tmp/ensure-docker-apt.log)"
    fi
    return 0
}

file_is_static() {
    # A static busybox has no PT_INTERP; `busybox` itself tells us nothing, so ask ldd quietly.
    if command -v ldd >/dev/null 2>&1; then
        ldd "$1" 2>&1 | grep -q -e 'not a dynamic executable' -e 'statically linked'
    else
        return 0
    fi
}

start_daemon() {
    if ! command -v dockerd >/dev/null 2>&1; then
        say "dockerd is not installed"
        return 1
    fi
    if pgrep -x dockerd >/dev/null 2>&1; then
        say "dockerd is running but not answering yet; waiting"
        return 0
    fi
    say "starting dockerd in the background (log $DOCKERD_LOG)"
    # A stale pid file from a killed daemon stops a new one from starting.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; then
        as_root rm -f /var/run/docker.pid
    fi
    # shellcheck disable=SC2086 # DOCKERD_FLAGS is a list of flags
    as_root sh -c "nohup dockerd $DOCKERD_FLAGS >>'$DOCKERD_LOG' 2>&1 </dev/null &" || {
        say "cannot start dockerd (needs root or passwordless sudo)"
        return 1
    }
    return 0
}

main() {
    if daemon_answers; then
        say "docker daemon ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        return 0
    fi
    if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://$SOCK}" = "$DOCKER_HOST" ]; then
        say "DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local daemon (docker tests will skip)"
        return 0
    fi
    install_missing
    start_daemon || {
        say "docker daemon NOT available: docker tests will skip"
        return 0
    }
    waited=0
    while [ "$waited" -lt "$DOCKER_WAIT" ]; do
        if daemon_answers; then
            say "docker daemon ready after ${waited}s ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
            return 0
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "docker daemon NOT available after ${DOCKER_WAIT}s (see $DOCKERD_LOG); docker tests will skip"
    tail -n 5 "$DOCKERD_LOG" 2>/dev/null | sed 's/^/ensure-docker:   /'
    return 0
}

main "$@"
exit 0
