#!/usr/bin/env bash
# psql on the app database: app.intents, app.runs, app.run_steps, app.artifacts (OPS rows), …
#   scripts/db/psql-app.sh -c "select * from app.artifacts where step_id = 'OPS' order by created_at desc limit 20"
# DATABASE_URL, else the embedded Postgres `npm start` runs.
set -euo pipefail
# shellcheck source=scripts/db/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

run_psql "${DATABASE_URL:-}" "$@"
