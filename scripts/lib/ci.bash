# shellcheck shell=bash
# Shared by scripts/container-test and scripts/system-test (sourced, not run): PASS/FAIL
# bookkeeping, rootful podman on a machine without systemd as init, the debian:bookworm base
# images made with debootstrap from this machine's mirror, and the fake Priava on the loopback.
#
# The sourcing script sets, before it calls these:
#   ci_name    its name, for the summary ("container-test")
#   started    its start, in seconds since the epoch
#   work       its temporary directory (removed by its cleanup)
#   cache      where the base image tarballs are kept
#   build      the build directory that has (or gets) fake-priava
#   client_id redirect_uri region   what the fake Priava accepts
# and defines cleanup(), which finish() calls. pids holds background processes to end.
passed=0
failed=0
failures=()
stopped_by=
pids=()

log() { printf '\n=== %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
pass() {
    passed=$((passed + 1))
    echo "PASS: $*"
}
fail() {
    failed=$((failed + 1))
    failures+=("$*")
    echo "FAIL: $*"
}
# check DESCRIPTION COMMAND...: runs the command, counts a pass or a failure.
check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
# The fatal kind: later steps make no sense without this one.
need() {
    local what=$1
    shift
    if "$@"; then
        pass "$what"
    else
        fail "$what"
        finish
    fi
}

finish() {
    trap - EXIT
    cleanup
    echo
    local verdict=PASS status=0
    if [[ $failed -gt 0 || $passed -eq 0 ]]; then
        verdict=FAIL
        status=1
    fi
    echo "scripts/$ci_name: $verdict in $(($(date +%s) - started))s"
    for f in "${failures[@]}"; do echo "  failed: $f"; done
    echo "$ci_name: $passed passed, $failed failed"
    exit "$status"
}
# A command that fails outside a check ends the run (set -e): as a failure, with cleanup.
ci_traps() {
    trap 'echo "scripts/$ci_name: line $LINENO: $BASH_COMMAND failed" >&2' ERR
    # shellcheck disable=SC2154 # rc is assigned in the trap itself
    trap 'rc=$?; [[ $rc -eq 0 ]] || fail "${stopped_by:-stopped by an error} (exit $rc)"; finish' EXIT
    trap 'stopped_by="interrupted by a signal"; exit 130' INT TERM
}

# podman ARGS... without the noise of a machine without systemd: podman cannot start the timer of
# an image's HEALTHCHECK there and says so on every run; `podman healthcheck run` still works.
pod() { podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

# --- podman -------------------------------------------------------------------------------------
# Rootful podman on a machine without systemd as init: runc, cgroupfs, file event log. Written
# only when missing; a containers.conf of someone else's is left alone and ours used beside it.
configure_podman() {
    local wanted='# Written by priava-tokend scripts/container-test.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
'
    local conf=/etc/containers/containers.conf
    if [[ ! -e $conf ]] || grep -q '^# Written by priava-tokend scripts/container-test' "$conf"; then
        if [[ "$(cat "$conf" 2>/dev/null)" != "${wanted%$'\n'}" ]]; then
            mkdir -p /etc/containers
            printf '%s' "$wanted" >"$conf"
            echo "wrote $conf"
        fi
    else
        printf '%s' "$wanted" >"$work/containers.conf"
        export CONTAINERS_CONF=$work/containers.conf
        echo "$conf is not ours: using $CONTAINERS_CONF for this run"
    fi
}

# The Debian mirror apt uses here (first bookworm main source), for debootstrap and the images.
debian_mirror() {
    if [[ -n "${PRIAVA_CI_DEBIAN_MIRROR:-}" ]]; then
        echo "$PRIAVA_CI_DEBIAN_MIRROR"
        return
    fi
    python3 - <<'EOF'
import glob, re
def sources():
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            for line in open(path):
                line = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(line) >= 3 and line[0] == "deb":
                    yield line[1], line[2:3]
        except OSError:
            pass
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", open(path).read()):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.split()
            if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                for uri in fields.get("uris", []):
                    yield uri, fields.get("suites", [])
for uri, suites in sources():
    if "bookworm" in suites:
        print(uri.rstrip("/"))
        break
else:
    print("http://deb.debian.org/debian")
EOF
}

# The bookworm, bookworm-updates and bookworm-security sources apt uses here, as deb822, so the
# images get the same packages (security fixes included) from the same mirror.
debian_sources() {
    python3 - "$1" <<'EOF'
import glob, re, sys
main = sys.argv[1]
security = None
paths = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
for path in paths:
    try:
        for line in open(path):
            line = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
            if len(line) >= 3 and line[0] == "deb" and line[2] == "bookworm-security":
                security = security or line[1].rstrip("/")
    except OSError:
        pass
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        if re.search(r"(?m)^Suites:.*\bbookworm-security\b", stanza):
            m = re.search(r"(?m)^URIs:\s*(\S+)", stanza)
            security = security or (m and m.group(1).rstrip("/"))
key = "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
print(f"Types: deb\nURIs: {main}\nSuites: bookworm bookworm-updates\nComponents: main\n{key}")
if security:
    print(f"\nTypes: deb\nURIs: {security}\nSuites: bookworm-security\nComponents: main\n{key}")
EOF
}

# debian:bookworm and debian:bookworm-slim in podman's store, made like Docker's official images:
# debootstrap minbase, apt lists and caches emptied; the slim one without docs, man pages and
# locales (and dpkg told to leave them out). Tarballs are kept in $cache.
make_base_images() {
    local have=1 tag
    for tag in bookworm bookworm-slim; do
        podman image exists "docker.io/library/debian:$tag" || have=0
    done
    if [[ $have -eq 1 && -z "${PRIAVA_CI_REFRESH_BASE:-}" ]]; then
        echo "base images already in podman's store"
        return 0
    fi
    mkdir -p "$cache"
    if [[ -n "${PRIAVA_CI_REFRESH_BASE:-}" || ! -s $cache/debian-bookworm.tar ||
        ! -s $cache/debian-bookworm-slim.tar ]]; then
        local mirror rootfs=$work/rootfs
        mirror=$(debian_mirror)
        echo "debootstrap bookworm from $mirror"
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
            {
                tail -20 "$work/debootstrap.log"
                return 1
            }
        rm -f "$rootfs/etc/apt/sources.list"
        debian_sources "$mirror" >"$rootfs/etc/apt/sources.list.d/debian.sources"
        # Apt settings of this machine that the images need to reach the same mirror.
        apt-config dump | grep -E '^Acquire::(Check-Valid-Until|https?::Proxy) ' \
            >"$rootfs/etc/apt/apt.conf.d/99host-mirror" || true
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb \
            "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log "$rootfs"/tmp/*
        : >"$rootfs/etc/hostname"
        tar --numeric-owner -C "$rootfs" -cf "$cache/debian-bookworm.tar.tmp" .
        mv "$cache/debian-bookworm.tar.tmp" "$cache/debian-bookworm.tar"
        cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
        find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
        find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
        rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian/overrides,man}/*
        find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias \
            -exec rm -rf {} +
        tar --numeric-owner -C "$rootfs" -cf "$cache/debian-bookworm-slim.tar.tmp" .
        mv "$cache/debian-bookworm-slim.tar.tmp" "$cache/debian-bookworm-slim.tar"
        rm -rf "$rootfs"
    fi
    for tag in bookworm bookworm-slim; do
        podman import --quiet \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["bash"]' "$cache/debian-$tag.tar" "docker.io/library/debian:$tag" \
            >/dev/null || return 1
    done
}

# podman build ARGS...: quiet unless it fails (then the end of its output).
build_image() {
    podman build --pull=never --format docker --network host "$@" >"$work/build.log" 2>&1 ||
        {
            tail -40 "$work/build.log"
            return 1
        }
}
# rebuild TAG ARGS...: builds, then drops the image TAG named before (and the cache layers only
# it used), so that runs on changing sources do not fill the disk.
rebuild() {
    local tag=$1 before after
    shift
    before=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null) || before=
    build_image -t "$tag" "$@" || return 1
    after=$(podman image inspect --format '{{.Id}}' "$tag")
    if [[ -n $before && $before != "$after" ]]; then
        podman rmi -f "$before" >/dev/null 2>&1 || true
    fi
}

# --- the fake Priava and a fake API, on this machine's loopback ----------------------------------
build_fake() {
    if [[ ! -f $build/CMakeCache.txt ]]; then
        cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
    cmake --build "$build" --target fake-priava -j "$(nproc)" >"$work/fake-build.log" 2>&1 ||
        {
            tail -30 "$work/fake-build.log"
            return 1
        }
}

start_fake() {
    mkdir -p "$work/fake" "$work/secrets"
    head -c 24 /dev/urandom | base64 | tr -d '\n' >"$work/secrets/priava_client_secret"
    "$build/tests/fake_priava/fake-priava" --dir "$work/fake" --port 0 \
        --client-id "$client_id" --redirect-uri "$redirect_uri" --region "$region" \
        --client-secret-file "$work/secrets/priava_client_secret" \
        >"$work/fake.out" 2>"$work/fake.log" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q 'listening on' "$work/fake.out" && [[ -S $work/fake/control.sock ]] && break
        sleep 0.1
    done
    token_url=$(cat "$work/fake/token_url") && [[ $token_url == https://127.0.0.1:* ]]
}

fake() { curl -fsS --unix-socket "$work/fake/control.sock" "$@"; }
fake_stat() { fake http://fake/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# no_leaks LOGFILE: none of the codes and tokens the fake issued, nor the client secret, in it.
no_leaks() {
    fake http://fake/issued >"$work/issued.json" && python3 - "$work" "$1" <<'EOF'
import json, sys
work, logs = sys.argv[1], open(sys.argv[2]).read()
issued = json.load(open(work + "/issued.json"))
secrets = [v for k in ("codes", "refresh_tokens", "access_tokens") for v in issued[k]]
assert len(secrets) >= 3, "the fake's list of issued secrets is short"
secrets.append(open(work + "/secrets/priava_client_secret").read().strip())
assert "starting" in logs, "no log"
leaks = [s for s in secrets if s and s in logs]
assert not leaks, f"{len(leaks)} secret(s) in the logs"
EOF
}
