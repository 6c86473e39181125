#!/usr/bin/env bash
# psql on the DBOS system database: dbos.* and the app.v_ops_* views.
#   scripts/db/psql-sys.sh -c 'select * from app.v_ops_queue_depth'
# DBOS_SYSTEM_DATABASE_URL, else DATABASE_URL, else the embedded Postgres `npm start` runs.
set -euo pipefail
# shellcheck source=scripts/db/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

run_psql "${DBOS_SYSTEM_DATABASE_URL:-${DATABASE_URL:-}}" "$@"
