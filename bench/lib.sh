# bench/lib.sh: helpers shared by bench/latency, bench/cpu, bench/held and
# bench/wakeup.
# Sourced, not run.  Everything listens on 127.0.0.1 only, every wait is
# bounded, and cleanup stops only the processes these helpers started, by
# PID.
#
# Environment:
#   NGINX       nginx binary                 (default /usr/sbin/nginx)
#   BAR_HLS_SO  the module                   (default build/ngx_bar_hls_module.so)
#   KEEP=1      keep the temporary directory (logs, confs) after the run

BH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NGINX=${NGINX:-/usr/sbin/nginx}
BAR_HLS_SO=${BAR_HLS_SO:-$BH_ROOT/build/ngx_bar_hls_module.so}
BH_RESULTS=$BH_ROOT/bench/results
BH_TMP=
BH_CAM_PIDS=()
BH_NGINX_PIDFILES=()
BH_BG_PIDS=()
BH_CLK_TCK=$(getconf CLK_TCK)

bh_log() {
    printf '%s %s: %s\n' "$(date +%T)" "$BH_NAME" "$*" >&2
}

bh_die() {
    bh_log "error: $*"
    exit 1
}

# bh_init NAME: a temporary directory, a private copy of the module (a
# rebuild during the run must not change the code under a running nginx),
# and the cleanup trap.
bh_init() {
    BH_NAME=$1
    [ -x "$NGINX" ] || bh_die "no nginx at $NGINX"
    [ -f "$BAR_HLS_SO" ] || bh_die "no module at $BAR_HLS_SO: run make"
    command -v curl >/dev/null || bh_die "curl is needed"
    BH_TMP=$(mktemp -d "/tmp/bar-hls-bench-$BH_NAME.XXXXXX")
    cp "$BAR_HLS_SO" "$BH_TMP/ngx_bar_hls_module.so"
    mkdir -p "$BH_RESULTS"
    trap bh_cleanup EXIT
    trap 'exit 130' INT TERM
    bh_log "work directory $BH_TMP"
}

# bh_free_port: a TCP port on 127.0.0.1 free right now
bh_free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# bh_start_camera NAME PORT [fake-camera args...]: starts a fake camera,
# waits (<= 15 s) until it listens; its PID goes in BH_CAM_PID and
# BH_CAM_PIDS.
bh_start_camera() {
    local name=$1 port=$2 i
    shift 2
    "$BH_ROOT/scripts/fake-camera" --port "$port" \
        --pidfile "$BH_TMP/camera-$name.pid" "$@" \
        2>"$BH_TMP/camera-$name.log" &
    BH_CAM_PID=$!
    BH_CAM_PIDS+=("$BH_CAM_PID")
    for ((i = 0; i < 150; i++)); do
        [ -s "$BH_TMP/camera-$name.pid" ] && return 0
        kill -0 "$BH_CAM_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$BH_TMP/camera-$name.log" >&2
    bh_die "fake camera $name did not start"
}

# bh_nginx_conf FILE HTTP_PORT WORKERS EXTRA_HTTP_LINES: an nginx.conf
# whose http{} holds the zone, the lines given (bar_hls_camera ...) and one
# server on 127.0.0.1:HTTP_PORT.  BH_LOCATION_EXTRA goes in location /live/.
bh_nginx_conf() {
    local file=$1 port=$2 workers=$3 lines=$4 dir
    dir=$(dirname "$file")
    cat >"$file" <<EOF
load_module $BH_TMP/ngx_bar_hls_module.so;
worker_processes $workers;
worker_rlimit_nofile 8192;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 4096; }
http {
    access_log off;
    bar_hls_zone ${BH_ZONE:-64m};
$lines
    server {
        listen 127.0.0.1:$port;
        location /live/ { bar_hls; ${BH_LOCATION_EXTRA:-} }
        location = /live/status { bar_hls_status; }
    }
}
EOF
}

# bh_start_nginx CONF: starts nginx (prefix = the conf's directory), waits
# (<= 10 s) for its pid file; sets BH_NGINX_PID and BH_NGINX_T0 (the
# epoch, in seconds with ns, just before nginx was started).
bh_start_nginx() {
    local conf=$1 dir i
    dir=$(dirname "$conf")
    rm -f "$dir/nginx.pid"
    BH_NGINX_PIDFILES+=("$dir/nginx.pid")
    BH_NGINX_T0=$(date +%s.%N)
    "$NGINX" -p "$dir" -c "$conf" -e "$dir/error.log" \
        || bh_die "nginx did not start: $(tail -n 5 "$dir/error.log")"
    for ((i = 0; i < 100; i++)); do
        if [ -s "$dir/nginx.pid" ]; then
            BH_NGINX_PID=$(cat "$dir/nginx.pid")
            return 0
        fi
        sleep 0.1
    done
    bh_die "nginx wrote no pid file"
}

# bh_stop_nginx PIDFILE: graceful, then by force after 10 s
bh_stop_nginx() {
    local pidfile=$1 pid i workers
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -0 "$pid" 2>/dev/null || return 0
    workers=$(bh_children "$pid")
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        bh_log "nginx $pid still up after 10 s: SIGKILL"
        kill -KILL "$pid" $workers 2>/dev/null
    fi
    rm -f "$pidfile"
}

# bh_children PID: the PIDs whose parent is PID (nginx workers)
bh_children() {
    local p ppid
    for p in /proc/[0-9]*; do
        ppid=$(awk '/^PPid:/ {print $2}' "$p/status" 2>/dev/null) || continue
        [ "$ppid" = "$1" ] && printf '%s ' "${p#/proc/}"
    done
    echo
}

# bh_worker_pids: the worker processes of the running nginx
bh_worker_pids() {
    bh_children "$BH_NGINX_PID"
}

# bh_ticks PID...: utime + stime of the processes (all their threads), in
# clock ticks.  Fields 14 and 15 of /proc/PID/stat, counted after the
# ")" that closes the command name (which may hold spaces).
bh_ticks() {
    local sum=0 pid rest f
    for pid in "$@"; do
        rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        [ -n "$rest" ] || continue
        # after ") ": f[0] = state (field 3) ... f[11] = utime, f[12] = stime
        read -r -a f <<<"$rest"
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}

# bh_rss_kb PID...: summed VmRSS in kB
bh_rss_kb() {
    local sum=0 pid kb
    for pid in "$@"; do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        sum=$((sum + ${kb:-0}))
    done
    echo "$sum"
}

# bh_pct TICKS SECONDS: CPU in % of one core, one decimal
bh_pct() {
    awk -v t="$1" -v s="$2" -v hz="$BH_CLK_TCK" \
        'BEGIN { printf "%.1f", 100 * t / hz / s }'
}

# bh_wait_segments N TIMEOUT_S URL...: waits until every playlist answers
# 200 with at least N EXTINF lines (bench/wait-playable.py: polls every
# 50 ms, gives up after TIMEOUT_S and returns 1).
bh_wait_segments() {
    local n=$1 timeout=$2
    shift 2
    /usr/bin/python3 "$BH_ROOT/bench/wait-playable.py" --timeout "$timeout" \
        --segments "$n" "$@" >/dev/null
}

bh_cleanup() {
    local rc=$? pid f i
    trap - EXIT INT TERM
    for pid in "${BH_BG_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for f in "${BH_NGINX_PIDFILES[@]}"; do
        bh_stop_nginx "$f"
    done
    for pid in "${BH_CAM_PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null          # bench/held stops one
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${BH_CAM_PIDS[@]}" "${BH_BG_PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    if [ -n "$BH_TMP" ] && [ -d "$BH_TMP" ]; then
        if [ "${KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
            bh_log "kept $BH_TMP"
        else
            rm -rf "$BH_TMP"
        fi
    fi
    exit $rc
}
