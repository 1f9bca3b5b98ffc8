-- How many jobs are in each state (todo, doing, failed, ...): the queue's depth.
SELECT status::text AS status, count(*) AS jobs
FROM procrastinate_jobs
GROUP BY status
