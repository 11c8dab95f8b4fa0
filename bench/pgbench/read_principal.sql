-- The bearer lookup of every authenticated request: a session and its user.
\set n random(1, :sessions)
SELECT s.*, u.* FROM user_sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = (SELECT id FROM bench_session_ids WHERE n = :n);
