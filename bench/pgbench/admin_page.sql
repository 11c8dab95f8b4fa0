-- What GET /admin/users?page=1&limit=20 asks of the database, statement for
-- statement: the bearer's session and user, the trigger-kept user counts,
-- and the first page (limit and offset bound as parameters, as identityd
-- binds them, so each execution is planned again as it is there).
\set n random(1, :sessions)
\set lim 20
\set off 0
SELECT s.*, u.* FROM user_sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = (SELECT id FROM bench_session_ids WHERE n = :n) LIMIT 1;
SELECT live FROM user_counts;
SELECT * FROM users WHERE deleted_at IS NULL
ORDER BY created_at DESC, id ASC LIMIT :lim OFFSET :off;
