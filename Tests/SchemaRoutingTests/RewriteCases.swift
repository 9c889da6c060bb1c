import Testing

/// One statement text and exactly what the rewriter must make of it (with `TestMapping.mapping`).
struct RewriteCase: CustomTestStringConvertible, Sendable {
    enum Expected: Sendable, Equatable {
        /// Forwarded as is: nothing to qualify.
        case same
        /// Rewritten to exactly this text.
        case to(String)
        /// Rejected by the parser, forwarded as is.
        case parseError
    }

    var sql: String
    var expected: Expected

    init(_ sql: String, _ expected: Expected) {
        self.sql = sql
        self.expected = expected
    }

    var testDescription: String { sql }
}

extension RewriteCase {
    /// Plain SELECTs: every FROM form, quoting and case, and everything that must never be touched.
    static let select: [RewriteCase] = [
        .init("SELECT * FROM users", .to("SELECT * FROM shared_common.users")),
        .init("select * from USERS", .to("select * from shared_common.USERS")),
        .init("SELECT * FROM Users u", .to("SELECT * FROM shared_common.Users u")),
        .init(#"SELECT * FROM "users""#, .to(#"SELECT * FROM shared_common."users""#)),
        .init(#"SELECT * FROM "Users""#, .same),
        .init(#"SELECT * FROM "USERS""#, .same),
        .init(#"SELECT * FROM "MixedCase""#, .to(#"SELECT * FROM "Analytics"."MixedCase""#)),
        .init("SELECT * FROM MixedCase", .same),
        .init("SELECT * FROM mixedcase", .same),
        .init("SELECT * FROM events", .to(#"SELECT * FROM "Analytics".events"#)),
        .init("SELECT id FROM line_items", .to(#"SELECT id FROM "order".line_items"#)),
        .init("SELECT * FROM 운세", .to("SELECT * FROM saju_service.운세")),
        .init(#"SELECT * FROM "운세""#, .to(#"SELECT * FROM saju_service."운세""#)),
        .init(
            "SELECT * FROM users u JOIN attachments a ON a.user_id = u.id",
            .to("SELECT * FROM shared_common.users u JOIN shared_common.attachments a ON a.user_id = u.id")
        ),
        .init(
            "SELECT u.id FROM users AS u LEFT JOIN saju_charts c USING (id)",
            .to("SELECT u.id FROM shared_common.users AS u LEFT JOIN saju_service.saju_charts c USING (id)")
        ),
        .init("SELECT * FROM users, attachments", .to("SELECT * FROM shared_common.users, shared_common.attachments")),
        .init("SELECT * FROM ONLY users", .to("SELECT * FROM ONLY shared_common.users")),
        .init("SELECT * FROM users*", .to("SELECT * FROM shared_common.users*")),
        .init("SELECT * FROM ONLY (users)", .to("SELECT * FROM ONLY (shared_common.users)")),
        .init("TABLE users", .to("TABLE shared_common.users")),
        .init("TABLE ONLY attachments", .to("TABLE ONLY shared_common.attachments")),
        .init("SELECT * FROM shared_common.users", .same),
        .init("SELECT * FROM other.users", .same),
        .init("SELECT * FROM db.other.users", .same),
        .init(#"SELECT * FROM "other"."users""#, .same),
        .init(
            "SELECT users.id, users.name FROM users WHERE users.id = 1",
            .to("SELECT users.id, users.name FROM shared_common.users WHERE users.id = 1")
        ),
        .init("SELECT users.* FROM users", .to("SELECT users.* FROM shared_common.users")),
        .init("SELECT id AS users FROM accounts", .same),
        .init("SELECT users FROM t", .same),
        .init("SELECT * FROM t WHERE users = 1", .same),
        .init("SELECT 'users' FROM t", .same),
        .init("SELECT * FROM t WHERE name = 'SELECT * FROM users'", .same),
        .init("SELECT * FROM t -- FROM users", .same),
        .init("SELECT * FROM t /* FROM users */", .same),
        .init("SELECT $$ FROM users $$ FROM t", .same),
        .init("SELECT $q$users$q$, * FROM users", .to("SELECT $q$users$q$, * FROM shared_common.users")),
        .init(#"SELECT E'users\'s' FROM t"#, .same),
        .init(
            "SELECT * FROM /* users */ users -- users",
            .to("SELECT * FROM /* users */ shared_common.users -- users")
        ),
        .init("SELECT * FROM users()", .same),
        .init("SELECT users()", .same),
        .init("SELECT * FROM users(1, 2) AS u", .same),
        .init("SELECT * FROM generate_series(1, 3) AS users", .same),
        .init("SELECT * FROM t AS users", .same),
        .init("SELECT * FROM t users", .same),
        .init(#"SELECT * FROM users AS "users""#, .to(#"SELECT * FROM shared_common.users AS "users""#)),
        .init(
            "SELECT * FROM (SELECT * FROM users) AS users",
            .to("SELECT * FROM (SELECT * FROM shared_common.users) AS users")
        ),
        .init(
            "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM users WHERE users.id = t.id)",
            .to("SELECT * FROM t WHERE EXISTS (SELECT 1 FROM shared_common.users WHERE users.id = t.id)")
        ),
        .init(
            "SELECT (SELECT count(*) FROM attachments) FROM users",
            .to("SELECT (SELECT count(*) FROM shared_common.attachments) FROM shared_common.users")
        ),
        .init(
            "SELECT * FROM t WHERE id IN (SELECT user_id FROM attachments)",
            .to("SELECT * FROM t WHERE id IN (SELECT user_id FROM shared_common.attachments)")
        ),
        .init(
            "SELECT * FROM users UNION SELECT * FROM users",
            .to("SELECT * FROM shared_common.users UNION SELECT * FROM shared_common.users")
        ),
        .init(
            "SELECT * FROM users INTERSECT ALL SELECT * FROM attachments EXCEPT SELECT * FROM kasi_cache",
            .to(
                "SELECT * FROM shared_common.users INTERSECT ALL SELECT * FROM shared_common.attachments "
                    + "EXCEPT SELECT * FROM saju_service.kasi_cache"
            )
        ),
        .init(
            "SELECT * FROM t, LATERAL (SELECT * FROM attachments a WHERE a.t = t.id) s",
            .to("SELECT * FROM t, LATERAL (SELECT * FROM shared_common.attachments a WHERE a.t = t.id) s")
        ),
        .init(
            "SELECT * FROM users TABLESAMPLE SYSTEM (10) REPEATABLE (1)",
            .to("SELECT * FROM shared_common.users TABLESAMPLE SYSTEM (10) REPEATABLE (1)")
        ),
        .init("SELECT * FROM users FOR UPDATE OF users", .to("SELECT * FROM shared_common.users FOR UPDATE OF users")),
        .init(
            "SELECT * FROM users u FOR SHARE OF u NOWAIT",
            .to("SELECT * FROM shared_common.users u FOR SHARE OF u NOWAIT")
        ),
        .init(
            "SELECT * FROM users NATURAL JOIN attachments CROSS JOIN kasi_cache",
            .to(
                "SELECT * FROM shared_common.users NATURAL JOIN shared_common.attachments "
                    + "CROSS JOIN saju_service.kasi_cache"
            )
        ),
        .init(
            "SELECT * FROM (users JOIN attachments USING (id)) j",
            .to("SELECT * FROM (shared_common.users JOIN shared_common.attachments USING (id)) j")
        ),
        .init(
            "SELECT * FROM t JOIN users ON users.id = t.id",
            .to("SELECT * FROM t JOIN shared_common.users ON users.id = t.id")
        ),
        .init("SELECT * FROM users WHERE id = $1", .to("SELECT * FROM shared_common.users WHERE id = $1")),
        .init(
            #"SELECT * FROM "users" WHERE "users"."id" = 1"#,
            .to(#"SELECT * FROM shared_common."users" WHERE "users"."id" = 1"#)
        ),
        .init(#"SELECT*FROM"users""#, .to(#"SELECT*FROM"shared_common"."users""#)),
        .init("SELECT*FROM users", .to("SELECT*FROM shared_common.users")),
        .init("SELECT *\n  FROM\tusers\r\n WHERE 1=1", .to("SELECT *\n  FROM\tshared_common.users\r\n WHERE 1=1")),
        .init(
            "SELECT '한국어 ñandú 🐧', * FROM users WHERE name = 'é'",
            .to("SELECT '한국어 ñandú 🐧', * FROM shared_common.users WHERE name = 'é'")
        ),
        .init(
            "/* 注释 users */ SELECT * FROM attachments",
            .to("/* 注释 users */ SELECT * FROM shared_common.attachments")
        ),
        .init(
            "SELECT 'é' AS é, * FROM /* ü */ saju_charts",
            .to("SELECT 'é' AS é, * FROM /* ü */ saju_service.saju_charts")
        ),
        .init(#"SELECT * FROM U&"\0075sers""#, .to(#"SELECT * FROM shared_common.U&"\0075sers""#)),
        .init(
            "SELECT * FROM kasi_cache kc, saju_charts sc WHERE kc.id = sc.id",
            .to("SELECT * FROM saju_service.kasi_cache kc, saju_service.saju_charts sc WHERE kc.id = sc.id")
        ),
        .init(
            #"SELECT * FROM saju_charts WHERE chart @> '{"users": 1}'"#,
            .to(#"SELECT * FROM saju_service.saju_charts WHERE chart @> '{"users": 1}'"#)
        ),
        .init(
            "SELECT 1 FROM users WHERE (SELECT users.id) = 1",
            .to("SELECT 1 FROM shared_common.users WHERE (SELECT users.id) = 1")
        ),
        .init("SELECT * FROM accounts", .same),
        .init("SELECT * FROM users_archive", .same),
        .init("SELECT * FROM archive_users", .same),
        .init("SELECT NULL::users, CAST(x AS users) FROM t", .same),
        .init("SELECT nextval('users_id_seq')", .same),
        .init("SELECT * FROM t WHERE x = ANY('{users}'::text[])", .same),
        .init("VALUES (1, 'users')", .same),
        .init("", .same),
        .init("   ", .same),
        .init(#"SELECT * FROM "line_items""#, .to(#"SELECT * FROM "order"."line_items""#)),
        .init(
            "SELECT * FROM LINE_ITEMS li WHERE li.id = 1",
            .to(#"SELECT * FROM "order".LINE_ITEMS li WHERE li.id = 1"#)
        ),
    ]

    /// pgbench's built-in scripts.
    static let pgbench: [RewriteCase] = [
        .init(
            "SELECT abalance FROM pgbench_accounts WHERE aid = 42;",
            .to("SELECT abalance FROM bench.pgbench_accounts WHERE aid = 42;")
        ),
        .init(
            "UPDATE pgbench_accounts SET abalance = abalance + -3 WHERE aid = 42;",
            .to("UPDATE bench.pgbench_accounts SET abalance = abalance + -3 WHERE aid = 42;")
        ),
        .init(
            "UPDATE pgbench_tellers SET tbalance = tbalance + 5 WHERE tid = 3;",
            .to("UPDATE bench.pgbench_tellers SET tbalance = tbalance + 5 WHERE tid = 3;")
        ),
        .init(
            "UPDATE pgbench_branches SET bbalance = bbalance + 5 WHERE bid = 1;",
            .to("UPDATE bench.pgbench_branches SET bbalance = bbalance + 5 WHERE bid = 1;")
        ),
        .init(
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, CURRENT_TIMESTAMP);",
            .to(
                "INSERT INTO bench.pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, "
                    + "CURRENT_TIMESTAMP);"
            )
        ),
        .init(
            "SELECT count(*) FROM pgbench_accounts a JOIN pgbench_branches b USING (bid)",
            .to("SELECT count(*) FROM bench.pgbench_accounts a JOIN bench.pgbench_branches b USING (bid)")
        ),
        .init("BEGIN; SELECT 1; END;", .same),
    ]

    /// CTE scoping: what a WITH's names shadow, and where they stop.
    static let cte: [RewriteCase] = [
        .init("WITH users AS (SELECT 1 AS id) SELECT * FROM users", .same),
        .init(
            "WITH u AS (SELECT * FROM users) SELECT * FROM u",
            .to("WITH u AS (SELECT * FROM shared_common.users) SELECT * FROM u")
        ),
        // A non-recursive CTE's own body does not see its name: that `users` is the table.
        .init(
            "WITH users AS (SELECT * FROM users) SELECT * FROM users",
            .to("WITH users AS (SELECT * FROM shared_common.users) SELECT * FROM users")
        ),
        .init("WITH RECURSIVE users AS (SELECT 1 UNION ALL SELECT * FROM users) SELECT * FROM users", .same),
        // Later CTEs are not visible to earlier ones without RECURSIVE...
        .init(
            "WITH a AS (SELECT * FROM users), users AS (SELECT * FROM a) SELECT * FROM users",
            .to("WITH a AS (SELECT * FROM shared_common.users), users AS (SELECT * FROM a) SELECT * FROM users")
        ),
        // ...earlier ones are.
        .init("WITH users AS (SELECT 1), a AS (SELECT * FROM users) SELECT * FROM a", .same),
        // With RECURSIVE every CTE of the WITH is visible in every other.
        .init("WITH RECURSIVE a AS (SELECT * FROM users), users AS (SELECT 1) SELECT * FROM a", .same),
        // A CTE in one subquery does not shadow a sibling.
        .init(
            "SELECT * FROM (WITH users AS (SELECT 1) SELECT * FROM users) s, users",
            .to("SELECT * FROM (WITH users AS (SELECT 1) SELECT * FROM users) s, shared_common.users")
        ),
        .init(
            "SELECT * FROM (WITH users AS (SELECT 1) SELECT * FROM users) a, (SELECT * FROM users) b",
            .to("SELECT * FROM (WITH users AS (SELECT 1) SELECT * FROM users) a, (SELECT * FROM shared_common.users) b")
        ),
        // Visible in subqueries nested at any depth.
        .init("WITH users AS (SELECT 1) SELECT * FROM (SELECT * FROM (SELECT * FROM users) x) y", .same),
        .init("WITH users AS (SELECT 1) SELECT * FROM t WHERE EXISTS (SELECT 1 FROM users)", .same),
        .init(
            "WITH users AS (SELECT 1) SELECT * FROM t WHERE x = (SELECT * FROM (VALUES (1)) v, LATERAL (SELECT * "
                + "FROM users) l)",
            .same
        ),
        .init(
            "WITH x AS (SELECT 1) SELECT * FROM users, x",
            .to("WITH x AS (SELECT 1) SELECT * FROM shared_common.users, x")
        ),
        // Shadowing at the second level only.
        .init(
            "SELECT * FROM users WHERE id IN (WITH users AS (SELECT 2 AS id) SELECT id FROM users)",
            .to("SELECT * FROM shared_common.users WHERE id IN (WITH users AS (SELECT 2 AS id) SELECT id FROM users)")
        ),
        // Shadowing at the third level only.
        .init(
            "SELECT * FROM users WHERE EXISTS (SELECT 1 FROM attachments WHERE id IN "
                + "(WITH users AS (SELECT 1 AS id) SELECT id FROM users))",
            .to(
                "SELECT * FROM shared_common.users WHERE EXISTS (SELECT 1 FROM shared_common.attachments WHERE id IN "
                    + "(WITH users AS (SELECT 1 AS id) SELECT id FROM users))"
            )
        ),
        .init(
            "WITH a AS (WITH users AS (SELECT 1) SELECT * FROM users) SELECT * FROM users, a",
            .to("WITH a AS (WITH users AS (SELECT 1) SELECT * FROM users) SELECT * FROM shared_common.users, a")
        ),
        // An outer CTE is visible inside a later CTE's nested WITH...
        .init(
            "WITH users AS (SELECT 1), b AS (WITH c AS (SELECT * FROM users) SELECT * FROM c) SELECT * FROM b",
            .same
        ),
        // ...but not when it comes later in a non-recursive WITH.
        .init(
            "WITH b AS (WITH c AS (SELECT * FROM users) SELECT * FROM c), users AS (SELECT 1) SELECT * FROM b",
            .to(
                "WITH b AS (WITH c AS (SELECT * FROM shared_common.users) SELECT * FROM c), users AS (SELECT 1) "
                    + "SELECT * FROM b"
            )
        ),
        .init(
            "SELECT * FROM users WHERE EXISTS (WITH users AS (SELECT 1) SELECT 1 FROM users) "
                + "AND id IN (SELECT id FROM users)",
            .to(
                "SELECT * FROM shared_common.users WHERE EXISTS (WITH users AS (SELECT 1) SELECT 1 FROM users) "
                    + "AND id IN (SELECT id FROM shared_common.users)"
            )
        ),
        // The WITH of a parenthesized UNION operand covers that operand only...
        .init(
            "(WITH users AS (SELECT 1) SELECT * FROM users) UNION ALL SELECT * FROM users",
            .to("(WITH users AS (SELECT 1) SELECT * FROM users) UNION ALL SELECT * FROM shared_common.users")
        ),
        // ...a WITH in front of the whole UNION covers both.
        .init("WITH users AS (SELECT 1) SELECT * FROM users UNION ALL SELECT * FROM users", .same),
        .init(
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t, users",
            .to(
                "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t, "
                    + "shared_common.users"
            )
        ),
        // CTE names fold like any identifier.
        .init(#"WITH "users" AS (SELECT 1) SELECT * FROM USERS"#, .same),
        .init(
            #"WITH "Users" AS (SELECT 1) SELECT * FROM users"#,
            .to(#"WITH "Users" AS (SELECT 1) SELECT * FROM shared_common.users"#)
        ),
        .init(
            "WITH users AS MATERIALIZED (SELECT * FROM users) SELECT * FROM users",
            .to("WITH users AS MATERIALIZED (SELECT * FROM shared_common.users) SELECT * FROM users")
        ),
        .init("WITH users(id) AS (VALUES (1)) SELECT * FROM users", .same),
        // A CTE never hides the target table of INSERT/UPDATE/DELETE/MERGE.
        .init(
            "WITH users AS (SELECT 1) INSERT INTO users SELECT * FROM users",
            .to("WITH users AS (SELECT 1) INSERT INTO shared_common.users SELECT * FROM users")
        ),
        .init(
            "WITH users AS (SELECT 1 AS id) UPDATE users SET x = 1 FROM users u2 WHERE u2.id = 1",
            .to("WITH users AS (SELECT 1 AS id) UPDATE shared_common.users SET x = 1 FROM users u2 WHERE u2.id = 1")
        ),
        .init(
            "WITH users AS (SELECT 1 AS id) DELETE FROM users USING users AS c WHERE users.id = c.id",
            .to("WITH users AS (SELECT 1 AS id) DELETE FROM shared_common.users USING users AS c WHERE users.id = c.id")
        ),
        .init(
            "WITH users AS (SELECT 1 AS id) MERGE INTO users t USING users s ON t.id = s.id "
                + "WHEN NOT MATCHED THEN INSERT VALUES (s.id)",
            .to(
                "WITH users AS (SELECT 1 AS id) MERGE INTO shared_common.users t USING users s ON t.id = s.id "
                    + "WHEN NOT MATCHED THEN INSERT VALUES (s.id)"
            )
        ),
        .init(
            "WITH moved AS (DELETE FROM users WHERE id = 1 RETURNING *) INSERT INTO attachments SELECT * FROM moved",
            .to(
                "WITH moved AS (DELETE FROM shared_common.users WHERE id = 1 RETURNING *) "
                    + "INSERT INTO shared_common.attachments SELECT * FROM moved"
            )
        ),
        .init(
            "WITH users AS (SELECT 1 AS id) INSERT INTO attachments SELECT id FROM users "
                + "ON CONFLICT (id) DO UPDATE SET n = (SELECT count(*) FROM users)",
            .to(
                "WITH users AS (SELECT 1 AS id) INSERT INTO shared_common.attachments SELECT id FROM users "
                    + "ON CONFLICT (id) DO UPDATE SET n = (SELECT count(*) FROM users)"
            )
        ),
        // Scope ends with the statement.
        .init(
            "WITH users AS (SELECT 1) SELECT * FROM users; SELECT * FROM users",
            .to("WITH users AS (SELECT 1) SELECT * FROM users; SELECT * FROM shared_common.users")
        ),
        .init("EXPLAIN ANALYZE WITH users AS (SELECT 1) SELECT * FROM users", .same),
        .init("CREATE VIEW v AS WITH users AS (SELECT 1) SELECT * FROM users", .same),
    ]
}
