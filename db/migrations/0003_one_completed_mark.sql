-- A step completes once per run, whatever the attempt number a replay or a second execution
-- computes: the second completed mark is refused (and the writer's ON CONFLICT DO NOTHING skips it).

CREATE UNIQUE INDEX run_steps_one_completed_idx ON app.run_steps (run_id, step_id) WHERE phase = 'completed';
