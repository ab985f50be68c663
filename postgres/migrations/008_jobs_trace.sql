-- The W3C traceparent of what enqueued a job ('' for none): its runs join
-- that trace (posture.Job.TraceParent).
ALTER TABLE jobs ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
