#!/bin/sh
# The scale command of docker/compose.yaml's autoscaler: N replicas of the service green,
# then their addresses, oldest (lowest replica number) first. `up --scale` stops the
# highest-numbered replicas when N shrinks: the last ones listed, as autoscaler.py expects.
#
#   compose-hook.sh N      (COMPOSE_FILE and COMPOSE_PROJECT_NAME from the environment)
set -eu
n=${1:?usage: compose-hook.sh REPLICAS}
service=${SERVICE:-green}
port=${SERVICE_PORT:-8080}
docker compose up --detach --no-deps --no-recreate --wait --scale "$service=$n" "$service" >&2
docker compose ps --format '{{.Name}}' "$service" |
  awk -F- -v port="$port" '{ print $NF, $0 ":" port }' | sort -n | cut -d' ' -f2
