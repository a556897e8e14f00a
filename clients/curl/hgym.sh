#!/usr/bin/env bash
# hgym.sh: drive hgym episodes from a shell, one curl call per command. Meant for debugging
# a task by hand, and as a readable account of the HTTP API (every route it uses is below).
#
#   hgym.sh reset [task] [seed]               start an episode: any task, or a family; a seed picks an instance reproducibly
#   hgym.sh reset '<json body>'               the same with the whole body, e.g. '{"instance_id":"..."}'
#   hgym.sh step <episode_id> '<json action>' one step, e.g. '{"tool":"think","arguments":{"thought":"hm"}}'
#   hgym.sh bash <episode_id> <command>       one execute_bash step
#   hgym.sh finish <episode_id> [message]     end the episode; the answer carries the reward
#   hgym.sh state|trajectory|close <episode_id>
#   hgym.sh tools|tasks|health
#
# Answers are the server's JSON, printed as they come (pipe them to `jq` or
# `python3 -m json.tool` to read them). An error answer goes to stderr and the exit status
# is 1; the error's `code` (HGYM_ERR_...) says what went wrong (docs/errors.md).
#
# Environment: HGYM_URL (default http://127.0.0.1:8000), HGYM_API_KEY (sent as a bearer
# token when set).
set -euo pipefail

HGYM_URL=${HGYM_URL:-http://127.0.0.1:8000}
HGYM_URL=${HGYM_URL%/}

# The command list at the top of this file.
usage() {
  echo 'usage:' >&2
  sed -n '5,11s/^#//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# call METHOD PATH [JSON-BODY]: prints a 2xx answer's body; anything else goes to stderr.
call() {
  local method=$1 path=$2 body=${3-}
  local args=(--silent --show-error --request "$method" --write-out '\n%{http_code}')
  if [[ -n ${HGYM_API_KEY:-} ]]; then args+=(--header "authorization: Bearer $HGYM_API_KEY"); fi
  if [[ -n $body ]]; then args+=(--header 'content-type: application/json' --data-binary "$body"); fi
  local answer status
  answer=$(curl "${args[@]}" "$HGYM_URL$path") # curl's own failures (no server) exit here
  status=${answer##*$'\n'}
  answer=${answer%$'\n'*}
  if [[ $status == 2* ]]; then
    printf '%s\n' "$answer"
  else
    printf '%s\n' "$answer" >&2
    return 1
  fi
}

# json_string TEXT: TEXT as a JSON string literal (backslash, quote and the usual control
# characters escaped; other control characters are refused by the server as a bad request).
json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# need N "$@": the command needs at least N arguments.
need() {
  local n=$1
  shift
  (($# >= n)) || usage
}

command=${1:-}
shift || true
case $command in
  reset)
    if [[ ${1:-} == '{'* ]]; then
      body=$1
    else
      body='{'
      if [[ -n ${1:-} ]]; then body+="\"task\":$(json_string "$1")"; fi
      if [[ -n ${2:-} ]]; then
        [[ $2 =~ ^[0-9]+$ ]] || { echo "hgym.sh: the seed must be a whole number, not '$2'" >&2; exit 2; }
        body+="${1:+,}\"seed\":$2"
      fi
      body+='}'
    fi
    call POST /v1/episodes "$body"
    ;;
  step)
    need 2 "$@"
    call POST "/v1/episodes/$1/step" "{\"action\":$2}"
    ;;
  bash)
    need 2 "$@"
    call POST "/v1/episodes/$1/step" "{\"action\":{\"tool\":\"execute_bash\",\"arguments\":{\"command\":$(json_string "$2")}}}"
    ;;
  finish)
    need 1 "$@"
    args='{}'
    if [[ -n ${2:-} ]]; then args="{\"message\":$(json_string "$2")}"; fi
    call POST "/v1/episodes/$1/step" "{\"action\":{\"tool\":\"finish\",\"arguments\":$args}}"
    ;;
  state)
    need 1 "$@"
    call GET "/v1/episodes/$1"
    ;;
  trajectory)
    need 1 "$@"
    call GET "/v1/episodes/$1/trajectory"
    ;;
  close)
    need 1 "$@"
    call DELETE "/v1/episodes/$1"
    ;;
  tools) call GET /v1/tools ;;
  tasks) call GET /v1/tasks ;;
  health) call GET /healthz ;;
  *) usage ;;
esac
