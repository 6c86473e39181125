-- Who created each intent and run: the principal of the bearer token (API_TOKENS), or 'anonymous'
-- on an open data plane (no client token configured, never in production). NULL for rows written
-- before this migration and for runs the control plane forks (their OPS audit row names the actor).
-- An intent is content-addressed: created_by is whoever stored it first.

ALTER TABLE app.intents ADD COLUMN created_by text;
ALTER TABLE app.runs ADD COLUMN created_by text;
