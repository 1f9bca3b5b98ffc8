-- Jobs the engine gave up on (every retry failed): what an admin looks at first.
SELECT id, task_name, status, attempts, scheduled_at, queue_name
FROM procrastinate_jobs
WHERE status = 'failed'
ORDER BY id DESC
LIMIT $1
