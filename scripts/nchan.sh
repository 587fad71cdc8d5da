#!/usr/bin/env bash
# nchan (NGINX pub/sub module) for side-by-side benchmarks with push-server (BENCHMARKS.md).
#
#   scripts/nchan.sh start    install nginx + libnginx-mod-nchan if missing, write the config, start
#   scripts/nchan.sh stop     stop it
#   scripts/nchan.sh status   show its processes
#
# Listens on 127.0.0.1:${NCHAN_PORT:-8090} only, two workers:
#   POST http://127.0.0.1:8090/pub/<channel>   publish (body = the frame subscribers get)
#   ws://127.0.0.1:8090/sub/<channel>          subscribe by WebSocket
# Files live in ${NCHAN_DIR:-/tmp/vz-nchan}. Needs root for the package install only.
set -euo pipefail

PORT="${NCHAN_PORT:-8090}"
DIR="${NCHAN_DIR:-/tmp/vz-nchan}"
MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so

install() {
  if command -v nginx >/dev/null && [ -f "$MODULE" ]; then return; fi
  echo "installing nginx and libnginx-mod-nchan (Debian packages)"
  # Keep Debian from starting the packaged nginx service on port 80 during the install.
  local guard=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; guard=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-nchan >/dev/null
  if [ "$guard" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}

configure() {
  mkdir -p "$DIR/tmp"
  chmod 777 "$DIR/tmp"
  # Each worker may hold as many connections as the hard open-files limit allows.
  local nofile
  nofile="$(ulimit -Hn)"
  [ "$nofile" = unlimited ] && nofile=1048576
  cat >"$DIR/nginx.conf" <<CONF
load_module $MODULE;
worker_processes 2;
worker_rlimit_nofile $nofile;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;

events {
  worker_connections $((nofile - 64));
  multi_accept on;
}

http {
  access_log off;
  client_body_temp_path $DIR/tmp/body;
  proxy_temp_path $DIR/tmp/proxy;
  fastcgi_temp_path $DIR/tmp/fastcgi;
  uwsgi_temp_path $DIR/tmp/uwsgi;
  scgi_temp_path $DIR/tmp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;

  # Messages are for live subscribers only, like push-server: keep one, briefly, and send a new
  # subscriber only what is published after it connected.
  nchan_shared_memory_size 256M;

  server {
    listen 127.0.0.1:$PORT backlog=65535;
    location ~ ^/pub/([\w-]+)\$ {
      nchan_publisher;
      nchan_channel_id \$1;
      nchan_message_buffer_length 1;
      nchan_message_timeout 10s;
    }
    location ~ ^/sub/([\w-]+)\$ {
      nchan_subscriber websocket;
      nchan_channel_id \$1;
      nchan_subscriber_first_message newest;
      nchan_subscriber_timeout 0;
      nchan_websocket_ping_interval 0;
    }
  }
}
CONF
}

case "${1:-start}" in
  start)
    install
    configure
    if [ -f "$DIR/nginx.pid" ] && kill -0 "$(cat "$DIR/nginx.pid")" 2>/dev/null; then
      echo "nchan already running (pid $(cat "$DIR/nginx.pid")); restarting"
      nginx -p "$DIR" -c "$DIR/nginx.conf" -s stop || true
      sleep 1
    fi
    ulimit -n "$(ulimit -Hn)"
    # NICE (e.g. -15, as root) keeps other work on the machine from disturbing a benchmark.
    nice -n "${NICE:-0}" nginx -p "$DIR" -c "$DIR/nginx.conf"
    sleep 0.5
    echo "nchan listening on 127.0.0.1:$PORT (pub: /pub/<channel>, sub: /sub/<channel>), pid $(cat "$DIR/nginx.pid")"
    ;;
  stop)
    if [ -f "$DIR/nginx.pid" ]; then nginx -p "$DIR" -c "$DIR/nginx.conf" -s stop && echo "nchan stopped"; fi
    ;;
  status)
    if [ -f "$DIR/nginx.pid" ] && kill -0 "$(cat "$DIR/nginx.pid")" 2>/dev/null; then
      ps -o pid,rss,args --ppid "$(cat "$DIR/nginx.pid")" -p "$(cat "$DIR/nginx.pid")"
    else
      echo "nchan not running"; exit 1
    fi
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
