-- Indexes our control plane needs on the DBOS system table. Re-applied at every boot (idempotent),
-- because db:sys:reset drops and recreates the dbos schema. Keyset pagination over
-- (created_at DESC, workflow_uuid DESC), alone or after one equality filter.

CREATE INDEX CONCURRENTLY IF NOT EXISTS durable_ops_wf_created_idx
  ON dbos.workflow_status (created_at DESC, workflow_uuid DESC);

CREATE INDEX CONCURRENTLY IF NOT EXISTS durable_ops_wf_status_created_idx
  ON dbos.workflow_status (status, created_at DESC, workflow_uuid DESC);

CREATE INDEX CONCURRENTLY IF NOT EXISTS durable_ops_wf_name_created_idx
  ON dbos.workflow_status (name, created_at DESC, workflow_uuid DESC);

CREATE INDEX CONCURRENTLY IF NOT EXISTS durable_ops_wf_queue_created_idx
  ON dbos.workflow_status (queue_name, created_at DESC, workflow_uuid DESC);
