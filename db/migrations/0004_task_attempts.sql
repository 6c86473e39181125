-- One row per send of a task's effect, and the claim that makes every send.
--
-- execution_id is the DBOS ownership token of the workflow execution that claimed the send
-- (dbos.workflow_status.owner_xid at the time): each dispatch of a run (first start, recovery,
-- resume) gets a new one, and a cancel clears it. attempt is the attempt within the run: a send that
-- re-sends an attempt whose outcome was never recorded (the execution died with it in flight) keeps
-- that attempt's number, so a run never counts more attempts than it allows.
CREATE TABLE app.task_attempts (
  task_key     text NOT NULL REFERENCES app.task_receipts (task_key),
  seq          integer NOT NULL CHECK (seq >= 1),
  run_id       text NOT NULL,
  attempt      integer NOT NULL CHECK (attempt >= 1),
  execution_id text NOT NULL,
  claimed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  settled_at   timestamptz,
  outcome      text CHECK (outcome IN ('succeeded', 'failed')),
  PRIMARY KEY (task_key, seq)
);

CREATE INDEX task_attempts_run_idx ON app.task_attempts (run_id, task_key);

-- Settles the previous send's outcome (p_settle: {taskKey, seq, status, output?, error?}, or NULL)
-- and claims the next task (p_task_key, or NULL to settle only), in one transaction, so a task's
-- outcome is durable before the next task's effect and a claim costs no extra commit.
--
-- Both act only for the run's live execution: when p_check_live, the run's DBOS workflow row must
-- be PENDING and owned by p_execution (read under a share lock, so a cancel or a resume waits for
-- this commit and every later claim sees it). A superseded execution (cancelled, resumed elsewhere)
-- gets verdict 'refused' and writes nothing: its in-flight send, if any, is re-sent by the live one.
--
-- verdict: 'replay' (the receipt succeeded: no effect), 'attempt' (a new attempt, counted on the
-- receipt), 'resend' (the run's last attempt never settled: the same attempt again), 'spent' (the
-- run used p_max_attempts), 'unrunnable' (p_attempting false: nothing counted), 'refused'.
CREATE FUNCTION app.claim_task(
  p_settle jsonb,
  p_task_key text,
  p_run_id text,
  p_lineage_root text,
  p_task_index integer,
  p_connector text,
  p_attempting boolean,
  p_execution text,
  p_max_attempts integer,
  p_check_live boolean
) RETURNS TABLE (verdict text, status text, attempts integer, attempt integer, seq integer, output jsonb, run_id text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  receipt app.task_receipts%ROWTYPE;
  last_send app.task_attempts%ROWTYPE;
  next_seq integer;
BEGIN
  IF p_check_live THEN
    PERFORM 1 FROM dbos.workflow_status AS ws
     WHERE ws.workflow_uuid = p_run_id AND ws.owner_xid = p_execution AND ws.status = 'PENDING'
       FOR SHARE;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'refused'::text, NULL::text, NULL::integer, NULL::integer, NULL::integer, NULL::jsonb, NULL::text;
      RETURN;
    END IF;
  END IF;

  IF p_settle IS NOT NULL THEN
    UPDATE app.task_receipts AS t
       SET status = p_settle ->> 'status',
           output = CASE WHEN p_settle ->> 'status' = 'succeeded' THEN p_settle -> 'output' ELSE t.output END,
           error = p_settle -> 'error',
           run_id = CASE WHEN p_settle ->> 'status' = 'succeeded' THEN p_run_id ELSE t.run_id END,
           updated_at = now()
     WHERE t.task_key = p_settle ->> 'taskKey' AND t.status <> 'succeeded';
    UPDATE app.task_attempts AS a
       SET settled_at = clock_timestamp(), outcome = p_settle ->> 'status'
     WHERE a.task_key = p_settle ->> 'taskKey' AND a.seq = (p_settle ->> 'seq')::integer AND a.settled_at IS NULL;
  END IF;

  IF p_task_key IS NULL THEN
    RETURN;
  END IF;

  -- The upsert locks the receipt row: claims of one task are serialized.
  INSERT INTO app.task_receipts AS t (task_key, run_id, lineage_root, task_index, connector, status, attempts)
  VALUES (p_task_key, p_run_id, p_lineage_root, p_task_index, p_connector, 'pending', 0)
  ON CONFLICT (task_key) DO UPDATE SET seen_count = t.seen_count + 1, updated_at = now()
  RETURNING t.* INTO receipt;

  IF receipt.status = 'succeeded' OR NOT p_attempting THEN
    RETURN QUERY SELECT CASE WHEN receipt.status = 'succeeded' THEN 'replay' ELSE 'unrunnable' END,
                        receipt.status, receipt.attempts, NULL::integer, NULL::integer, receipt.output, receipt.run_id;
    RETURN;
  END IF;

  SELECT * INTO last_send FROM app.task_attempts AS a
   WHERE a.task_key = p_task_key AND a.run_id = p_run_id
   ORDER BY a.seq DESC LIMIT 1;
  next_seq := coalesce((SELECT max(a.seq) FROM app.task_attempts AS a WHERE a.task_key = p_task_key), 0) + 1;

  IF last_send.seq IS NOT NULL AND last_send.settled_at IS NULL THEN
    INSERT INTO app.task_attempts (task_key, seq, run_id, attempt, execution_id)
    VALUES (p_task_key, next_seq, p_run_id, last_send.attempt, p_execution);
    RETURN QUERY SELECT 'resend'::text, receipt.status, receipt.attempts, last_send.attempt, next_seq, receipt.output, receipt.run_id;
    RETURN;
  END IF;

  IF coalesce(last_send.attempt, 0) >= p_max_attempts THEN
    RETURN QUERY SELECT 'spent'::text, receipt.status, receipt.attempts, last_send.attempt, NULL::integer, receipt.output, receipt.run_id;
    RETURN;
  END IF;

  INSERT INTO app.task_attempts (task_key, seq, run_id, attempt, execution_id)
  VALUES (p_task_key, next_seq, p_run_id, coalesce(last_send.attempt, 0) + 1, p_execution);
  UPDATE app.task_receipts AS t SET attempts = t.attempts + 1 WHERE t.task_key = p_task_key;
  RETURN QUERY SELECT 'attempt'::text, receipt.status, receipt.attempts + 1, coalesce(last_send.attempt, 0) + 1, next_seq, receipt.output, receipt.run_id;
END;
$$;
