extension RewriteCase {
    /// INSERT, UPDATE, DELETE, MERGE.
    static let modification: [RewriteCase] = [
        .init(
            "INSERT INTO users (id, name) VALUES (1, 'users')",
            .to("INSERT INTO shared_common.users (id, name) VALUES (1, 'users')")
        ),
        .init(
            "INSERT INTO users SELECT * FROM attachments",
            .to("INSERT INTO shared_common.users SELECT * FROM shared_common.attachments")
        ),
        .init(
            "INSERT INTO users AS u VALUES (1) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name WHERE u.id > 0",
            .to(
                "INSERT INTO shared_common.users AS u VALUES (1) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name "
                    + "WHERE u.id > 0"
            )
        ),
        .init(
            "INSERT INTO users VALUES (1) ON CONFLICT (id) DO UPDATE SET n = (SELECT count(*) FROM attachments)",
            .to(
                "INSERT INTO shared_common.users VALUES (1) ON CONFLICT (id) DO UPDATE SET n = "
                    + "(SELECT count(*) FROM shared_common.attachments)"
            )
        ),
        .init(
            "INSERT INTO users VALUES (1) ON CONFLICT ON CONSTRAINT users_pkey DO NOTHING",
            .to("INSERT INTO shared_common.users VALUES (1) ON CONFLICT ON CONSTRAINT users_pkey DO NOTHING")
        ),
        .init(
            "INSERT INTO users DEFAULT VALUES RETURNING users.id",
            .to("INSERT INTO shared_common.users DEFAULT VALUES RETURNING users.id")
        ),
        .init(#"INSERT INTO "MixedCase" VALUES (1)"#, .to(#"INSERT INTO "Analytics"."MixedCase" VALUES (1)"#)),
        .init("INSERT INTO other.users VALUES (1)", .same),
        .init(
            "UPDATE users SET name = 'x' WHERE id = 1",
            .to("UPDATE shared_common.users SET name = 'x' WHERE id = 1")
        ),
        .init("UPDATE ONLY users SET name = 'x'", .to("UPDATE ONLY shared_common.users SET name = 'x'")),
        .init(
            "UPDATE users u SET n = a.n FROM attachments a WHERE a.id = u.id",
            .to("UPDATE shared_common.users u SET n = a.n FROM shared_common.attachments a WHERE a.id = u.id")
        ),
        .init(
            "UPDATE users SET n = users.n + 1 RETURNING *",
            .to("UPDATE shared_common.users SET n = users.n + 1 RETURNING *")
        ),
        .init(
            "UPDATE users SET x = 1 WHERE CURRENT OF users_cursor",
            .to("UPDATE shared_common.users SET x = 1 WHERE CURRENT OF users_cursor")
        ),
        .init("DELETE FROM users WHERE id = 1", .to("DELETE FROM shared_common.users WHERE id = 1")),
        .init(
            "DELETE FROM ONLY users USING attachments WHERE attachments.u = users.id",
            .to("DELETE FROM ONLY shared_common.users USING shared_common.attachments WHERE attachments.u = users.id")
        ),
        .init(
            "DELETE FROM users WHERE id IN (SELECT id FROM kasi_cache)",
            .to("DELETE FROM shared_common.users WHERE id IN (SELECT id FROM saju_service.kasi_cache)")
        ),
        .init(
            "MERGE INTO users u USING attachments a ON u.id = a.user_id WHEN MATCHED THEN UPDATE SET n = 1 "
                + "WHEN NOT MATCHED THEN INSERT (id) VALUES (a.user_id)",
            .to(
                "MERGE INTO shared_common.users u USING shared_common.attachments a ON u.id = a.user_id "
                    + "WHEN MATCHED THEN UPDATE SET n = 1 WHEN NOT MATCHED THEN INSERT (id) VALUES (a.user_id)"
            )
        ),
        .init(
            "MERGE INTO users USING (SELECT * FROM saju_charts) s ON true WHEN MATCHED THEN DELETE",
            .to(
                "MERGE INTO shared_common.users USING (SELECT * FROM saju_service.saju_charts) s ON true WHEN "
                    + "MATCHED THEN DELETE"
            )
        ),
        .init(
            "WITH src AS (SELECT 1 AS id) MERGE INTO users u USING src ON u.id = src.id WHEN MATCHED THEN DELETE",
            .to(
                "WITH src AS (SELECT 1 AS id) MERGE INTO shared_common.users u USING src ON u.id = src.id WHEN "
                    + "MATCHED THEN DELETE"
            )
        ),
    ]

    /// CREATE, ALTER, DROP, TRUNCATE, LOCK, COMMENT, GRANT, COPY, and the statements that wrap others.
    static let definition: [RewriteCase] = [
        .init("CREATE TABLE users (id int PRIMARY KEY)", .to("CREATE TABLE shared_common.users (id int PRIMARY KEY)")),
        .init(
            "CREATE TABLE IF NOT EXISTS users (id int)",
            .to("CREATE TABLE IF NOT EXISTS shared_common.users (id int)")
        ),
        .init(
            "CREATE TABLE attachments (id int, user_id int REFERENCES users (id))",
            .to("CREATE TABLE shared_common.attachments (id int, user_id int REFERENCES shared_common.users (id))")
        ),
        .init(
            "CREATE TABLE t (user_id int, FOREIGN KEY (user_id) REFERENCES users ON DELETE CASCADE)",
            .to("CREATE TABLE t (user_id int, FOREIGN KEY (user_id) REFERENCES shared_common.users ON DELETE CASCADE)")
        ),
        // A temporary table cannot be created in a named schema.
        .init("CREATE TEMP TABLE users (id int)", .same),
        .init(
            "CREATE TEMPORARY TABLE t (LIKE users INCLUDING ALL)",
            .to("CREATE TEMPORARY TABLE t (LIKE shared_common.users INCLUDING ALL)")
        ),
        .init(
            "CREATE TABLE kasi_cache (LIKE users)",
            .to("CREATE TABLE saju_service.kasi_cache (LIKE shared_common.users)")
        ),
        .init(
            "CREATE TABLE users_2024 PARTITION OF users FOR VALUES FROM (1) TO (10)",
            .to("CREATE TABLE users_2024 PARTITION OF shared_common.users FOR VALUES FROM (1) TO (10)")
        ),
        .init("CREATE TABLE child () INHERITS (users)", .to("CREATE TABLE child () INHERITS (shared_common.users)")),
        .init(
            "CREATE UNLOGGED TABLE kasi_cache (k text)",
            .to("CREATE UNLOGGED TABLE saju_service.kasi_cache (k text)")
        ),
        .init(
            "CREATE TABLE users AS SELECT * FROM attachments",
            .to("CREATE TABLE shared_common.users AS SELECT * FROM shared_common.attachments")
        ),
        .init(
            "CREATE TEMP TABLE tmp AS SELECT * FROM users",
            .to("CREATE TEMP TABLE tmp AS SELECT * FROM shared_common.users")
        ),
        .init(
            "SELECT * INTO users FROM attachments",
            .to("SELECT * INTO shared_common.users FROM shared_common.attachments")
        ),
        .init(
            "SELECT * INTO TEMP users FROM attachments",
            .to("SELECT * INTO TEMP users FROM shared_common.attachments")
        ),
        .init(
            "CREATE VIEW users AS SELECT * FROM attachments",
            .to("CREATE VIEW shared_common.users AS SELECT * FROM shared_common.attachments")
        ),
        .init(
            "CREATE OR REPLACE VIEW v AS SELECT u.id FROM users u JOIN attachments a ON true",
            .to(
                "CREATE OR REPLACE VIEW v AS SELECT u.id FROM shared_common.users u JOIN shared_common.attachments a "
                    + "ON true"
            )
        ),
        .init("CREATE TEMP VIEW users AS SELECT 1", .same),
        .init(
            "CREATE MATERIALIZED VIEW mv AS SELECT * FROM users",
            .to("CREATE MATERIALIZED VIEW mv AS SELECT * FROM shared_common.users")
        ),
        .init(
            "REFRESH MATERIALIZED VIEW CONCURRENTLY kasi_cache",
            .to("REFRESH MATERIALIZED VIEW CONCURRENTLY saju_service.kasi_cache")
        ),
        .init(
            "CREATE INDEX users_name_idx ON users (name)",
            .to("CREATE INDEX users_name_idx ON shared_common.users (name)")
        ),
        .init(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx ON ONLY users USING btree (id)",
            .to("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx ON ONLY shared_common.users USING btree (id)")
        ),
        .init(
            "CREATE INDEX ON users (lower(name)) WHERE name IS NOT NULL",
            .to("CREATE INDEX ON shared_common.users (lower(name)) WHERE name IS NOT NULL")
        ),
        .init("ALTER TABLE users ADD COLUMN email text", .to("ALTER TABLE shared_common.users ADD COLUMN email text")),
        .init(
            "ALTER TABLE IF EXISTS ONLY users DROP COLUMN email",
            .to("ALTER TABLE IF EXISTS ONLY shared_common.users DROP COLUMN email")
        ),
        .init(
            "ALTER TABLE attachments ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id)",
            .to(
                "ALTER TABLE shared_common.attachments ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES "
                    + "shared_common.users (id)"
            )
        ),
        .init("ALTER TABLE users RENAME TO users_old", .to("ALTER TABLE shared_common.users RENAME TO users_old")),
        .init("ALTER TABLE users_old RENAME TO users", .same),
        .init("ALTER TABLE users RENAME COLUMN a TO b", .to("ALTER TABLE shared_common.users RENAME COLUMN a TO b")),
        .init("ALTER TABLE users SET SCHEMA archive", .to("ALTER TABLE shared_common.users SET SCHEMA archive")),
        .init(
            "ALTER TABLE users ATTACH PARTITION attachments FOR VALUES IN (1)",
            .to("ALTER TABLE shared_common.users ATTACH PARTITION shared_common.attachments FOR VALUES IN (1)")
        ),
        .init(
            "ALTER TABLE users INHERIT attachments",
            .to("ALTER TABLE shared_common.users INHERIT shared_common.attachments")
        ),
        .init("ALTER TABLE users OWNER TO app", .to("ALTER TABLE shared_common.users OWNER TO app")),
        .init(
            "ALTER TABLE users ALTER COLUMN id SET DEFAULT nextval('users_id_seq')",
            .to("ALTER TABLE shared_common.users ALTER COLUMN id SET DEFAULT nextval('users_id_seq')")
        ),
        .init("DROP TABLE users", .to("DROP TABLE shared_common.users")),
        .init(
            "DROP TABLE IF EXISTS users, attachments CASCADE",
            .to("DROP TABLE IF EXISTS shared_common.users, shared_common.attachments CASCADE")
        ),
        .init("DROP TABLE other.users, users", .to("DROP TABLE other.users, shared_common.users")),
        .init(
            #"DROP TABLE "users", Attachments"#,
            .to(#"DROP TABLE shared_common."users", shared_common.Attachments"#)
        ),
        .init(#"DROP TABLE "Users""#, .same),
        .init("DROP TABLE t1, users, t2", .to("DROP TABLE t1, shared_common.users, t2")),
        .init(#"DROP TABLE "MixedCase""#, .to(#"DROP TABLE "Analytics"."MixedCase""#)),
        .init(
            "drop /* users */ table -- users\n  users restrict",
            .to("drop /* users */ table -- users\n  shared_common.users restrict")
        ),
        .init("DROP VIEW users", .to("DROP VIEW shared_common.users")),
        .init(
            "DROP MATERIALIZED VIEW IF EXISTS kasi_cache",
            .to("DROP MATERIALIZED VIEW IF EXISTS saju_service.kasi_cache")
        ),
        .init("DROP FOREIGN TABLE events", .to(#"DROP FOREIGN TABLE "Analytics".events"#)),
        .init("DROP INDEX users_name_idx", .same),
        .init("DROP FUNCTION users()", .same),
        .init("DROP TYPE users", .same),
        .init("DROP SCHEMA users", .same),
        .init("DROP TRIGGER trg ON users", .to("DROP TRIGGER trg ON shared_common.users")),
        .init("DROP POLICY IF EXISTS p ON users", .to("DROP POLICY IF EXISTS p ON shared_common.users")),
        .init("DROP RULE r ON users CASCADE", .to("DROP RULE r ON shared_common.users CASCADE")),
        .init("DROP TRIGGER users ON t", .same),
        .init("TRUNCATE users", .to("TRUNCATE shared_common.users")),
        .init(
            "TRUNCATE TABLE ONLY users, attachments RESTART IDENTITY",
            .to("TRUNCATE TABLE ONLY shared_common.users, shared_common.attachments RESTART IDENTITY")
        ),
        .init(
            "LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
            .to("LOCK TABLE shared_common.users IN ACCESS EXCLUSIVE MODE")
        ),
        .init("LOCK users, attachments", .to("LOCK shared_common.users, shared_common.attachments")),
        .init(
            "COMMENT ON TABLE users IS 'the users table'",
            .to("COMMENT ON TABLE shared_common.users IS 'the users table'")
        ),
        .init("COMMENT ON COLUMN users.email IS 'x'", .to("COMMENT ON COLUMN shared_common.users.email IS 'x'")),
        .init("COMMENT ON COLUMN shared_common.users.email IS 'x'", .same),
        .init("COMMENT ON VIEW users IS NULL", .to("COMMENT ON VIEW shared_common.users IS NULL")),
        .init("COMMENT ON TRIGGER trg ON users IS 'x'", .to("COMMENT ON TRIGGER trg ON shared_common.users IS 'x'")),
        .init(
            "COMMENT ON CONSTRAINT users_pkey ON users IS 'x'",
            .to("COMMENT ON CONSTRAINT users_pkey ON shared_common.users IS 'x'")
        ),
        .init("COMMENT ON FUNCTION users() IS 'x'", .same),
        .init("COMMENT ON SCHEMA users IS 'x'", .same),
        .init("GRANT SELECT ON users TO app", .to("GRANT SELECT ON shared_common.users TO app")),
        .init(
            "GRANT SELECT, INSERT ON TABLE users, attachments TO app",
            .to("GRANT SELECT, INSERT ON TABLE shared_common.users, shared_common.attachments TO app")
        ),
        .init("GRANT SELECT (id) ON users TO app", .to("GRANT SELECT (id) ON shared_common.users TO app")),
        .init("REVOKE ALL ON users FROM app", .to("REVOKE ALL ON shared_common.users FROM app")),
        .init("GRANT SELECT ON ALL TABLES IN SCHEMA public TO app", .same),
        .init("GRANT users TO app", .same),
        .init("COPY users FROM STDIN", .to("COPY shared_common.users FROM STDIN")),
        .init(
            "COPY users (id, name) TO STDOUT WITH (FORMAT csv)",
            .to("COPY shared_common.users (id, name) TO STDOUT WITH (FORMAT csv)")
        ),
        .init("COPY (SELECT * FROM users) TO STDOUT", .to("COPY (SELECT * FROM shared_common.users) TO STDOUT")),
        .init("EXPLAIN SELECT * FROM users", .to("EXPLAIN SELECT * FROM shared_common.users")),
        .init(
            "EXPLAIN (ANALYZE, BUFFERS) UPDATE users SET x = 1",
            .to("EXPLAIN (ANALYZE, BUFFERS) UPDATE shared_common.users SET x = 1")
        ),
        .init(
            "PREPARE q (int) AS SELECT * FROM users WHERE id = $1",
            .to("PREPARE q (int) AS SELECT * FROM shared_common.users WHERE id = $1")
        ),
        .init(
            "DECLARE c CURSOR FOR SELECT * FROM users",
            .to("DECLARE c CURSOR FOR SELECT * FROM shared_common.users")
        ),
        .init(
            "CREATE TRIGGER trg AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION f()",
            .to("CREATE TRIGGER trg AFTER INSERT ON shared_common.users FOR EACH ROW EXECUTE FUNCTION f()")
        ),
        .init(
            "CREATE POLICY p ON users USING (owner = current_user)",
            .to("CREATE POLICY p ON shared_common.users USING (owner = current_user)")
        ),
        .init(
            "CREATE RULE r AS ON INSERT TO users DO INSTEAD NOTHING",
            .to("CREATE RULE r AS ON INSERT TO shared_common.users DO INSTEAD NOTHING")
        ),
        .init("VACUUM ANALYZE users", .to("VACUUM ANALYZE shared_common.users")),
        .init("ANALYZE users (id)", .to("ANALYZE shared_common.users (id)")),
        .init("CLUSTER users USING users_pkey", .to("CLUSTER shared_common.users USING users_pkey")),
        .init("REINDEX TABLE users", .to("REINDEX TABLE shared_common.users")),
        .init("CREATE STATISTICS st ON a, b FROM users", .to("CREATE STATISTICS st ON a, b FROM shared_common.users")),
        // Function bodies in strings are not parsed: they stay as written.
        .init("CREATE FUNCTION f() RETURNS int AS $$ SELECT count(*) FROM users $$ LANGUAGE sql", .same),
        .init("CREATE FUNCTION f() RETURNS SETOF users AS 'SELECT * FROM users' LANGUAGE sql", .same),
        .init("DO $body$ BEGIN DELETE FROM users; END $body$", .same),
        // A SQL-standard body is parsed with the statement: its tables are references like any other.
        .init(
            "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM users; END",
            .to(
                "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM "
                    + "shared_common.users; END"
            )
        ),
        .init("CREATE TABLE t (u users, v users[])", .same),
        .init("CREATE TYPE users AS (id int)", .same),
        .init("ALTER TYPE users ADD ATTRIBUTE a int", .same),
        .init("ALTER TYPE users RENAME ATTRIBUTE a TO b", .same),
        .init("SET CONSTRAINTS users DEFERRED", .same),
        .init("CREATE SCHEMA s CREATE TABLE users (id int) CREATE VIEW v AS SELECT * FROM users", .same),
        .init("NOTIFY users", .same),
        .init("LISTEN users", .same),
        .init("SET search_path = users, public", .same),
        .init("PREPARE users AS SELECT 1", .same),
        .init("CREATE SEQUENCE users_id_seq", .same),
    ]

    /// Several statements in one text, and texts the parser rejects.
    static let multipleAndInvalid: [RewriteCase] = [
        .init(
            "SELECT * FROM users; SELECT * FROM attachments;",
            .to("SELECT * FROM shared_common.users; SELECT * FROM shared_common.attachments;")
        ),
        .init(
            "INSERT INTO users VALUES (1); DROP TABLE kasi_cache; SELECT 1",
            .to("INSERT INTO shared_common.users VALUES (1); DROP TABLE saju_service.kasi_cache; SELECT 1")
        ),
        .init(
            "SELECT 'a;b' FROM users; -- users;\nDELETE FROM attachments",
            .to("SELECT 'a;b' FROM shared_common.users; -- users;\nDELETE FROM shared_common.attachments")
        ),
        .init(
            "SELECT 'ü'; DROP TABLE IF EXISTS t, users; COMMENT ON TABLE attachments IS 'ö'",
            .to(
                "SELECT 'ü'; DROP TABLE IF EXISTS t, shared_common.users; COMMENT ON TABLE shared_common.attachments "
                    + "IS 'ö'"
            )
        ),
        .init("SELECT 1; SELEC * FROM users", .parseError),
        .init("SELECT * FROM users WHERE", .parseError),
        .init("SELEC * FROM users", .parseError),
        .init("SELECT * FROM users WHERE name = 'unterminated", .parseError),
        .init("SELECT * FROM users /* unterminated", .parseError),
        .init("DROP TABLE users,", .parseError),
    ]

    static let all: [RewriteCase] = select + pgbench + cte + modification + definition + multipleAndInvalid
        + legacySchemas + regclassLiterals
}
