# Shared by psql-app.sh and psql-sys.sh (sourced, not run).

# The embedded Postgres the service runs when no DATABASE_URL is set (libs/db/src/embedded.ts): its
# data folder is .data/pg, or, when the checkout is out of reach of the postgres user (running as
# root), durable-ops-<sha256 of that path, first 12 hex>/pg under the temp dir. Prints its URL.
embedded_database_url() {
  local root wanted hash candidate pid_file='' pid port
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  wanted="$root/.data/pg"
  hash="$(printf '%s' "$wanted" | sha256sum | cut -c1-12)"
  for candidate in "$wanted/postmaster.pid" "${TMPDIR:-/tmp}/durable-ops-$hash/pg/postmaster.pid"; do
    if [[ -r "$candidate" ]]; then
      pid_file="$candidate"
      break
    fi
  done
  if [[ -n "$pid_file" ]]; then
    pid="$(sed -n 1p "$pid_file")"
    port="$(sed -n 4p "$pid_file")"
    if [[ "$pid" =~ ^[0-9]+$ && "$port" =~ ^[0-9]+$ ]] && { kill -0 "$pid" 2>/dev/null || [[ -d "/proc/$pid" ]]; }; then
      printf 'postgres://postgres@127.0.0.1:%s/durable_ops\n' "$port"
      return 0
    fi
  fi
  echo "$(basename "$0"): no DATABASE_URL set and the embedded Postgres is not running (no live $wanted/postmaster.pid); start the service with \`npm start\` or set DATABASE_URL" >&2
  return 1
}

# psql on the given URL (the embedded Postgres `npm start` runs when it is empty), with the caller's extra arguments.
run_psql() {
  local url="$1"
  shift
  if [[ -z "$url" ]]; then
    url="$(embedded_database_url)"
  fi
  if ! command -v psql >/dev/null 2>&1; then
    echo "$(basename "$0"): psql not found; install the PostgreSQL client (e.g. apt-get install postgresql-client)" >&2
    return 127
  fi
  exec psql "$url" "$@"
}
