extension RewriteCase {
    /// Names qualified with a legacy schema (`public`, `"Legacy"` in `TestMapping`): only the schema token changes,
    /// and only for mapped names.
    static let legacySchemas: [RewriteCase] = [
        .init("SELECT * FROM public.users", .to("SELECT * FROM shared_common.users")),
        .init("SELECT * FROM PUBLIC.Users u", .to("SELECT * FROM shared_common.Users u")),
        .init(#"SELECT * FROM "public".users"#, .to("SELECT * FROM shared_common.users")),
        .init(#"SELECT * FROM "PUBLIC".users"#, .same),
        .init(#"SELECT * FROM public."MixedCase""#, .to(#"SELECT * FROM "Analytics"."MixedCase""#)),
        .init(#"SELECT * FROM public."Users""#, .same),
        .init("SELECT * FROM public . users", .to("SELECT * FROM shared_common . users")),
        .init("SELECT * FROM public/* c */.users -- public.users", .to(
            "SELECT * FROM shared_common/* c */.users -- public.users"
        )),
        .init(#"SELECT * FROM"public".users"#, .to(#"SELECT * FROM"shared_common".users"#)),
        .init("SELECT * FROM public.unmapped", .same),
        .init(
            "SELECT public.users.id, PUBLIC.users.*, users.name FROM public.users",
            .to("SELECT shared_common.users.id, shared_common.users.*, users.name FROM shared_common.users")
        ),
        .init("SELECT public.unmapped.id FROM public.unmapped", .same),
        .init("SELECT other.users.id FROM other.users", .same),
        .init("SELECT heal7.public.users.id FROM heal7.public.users", .same),
        .init("SELECT public.users FROM t", .same),
        .init("SELECT * FROM heal7.public.users", .same),
        .init(#"SELECT * FROM "Legacy".events"#, .to(#"SELECT * FROM "Analytics".events"#)),
        .init("SELECT * FROM legacy.events", .same),
        .init("SELECT * FROM public.line_items", .to(#"SELECT * FROM "order".line_items"#)),
        .init("SELECT 'public.users' FROM t", .same),
        .init(
            "WITH users AS (SELECT 1) SELECT * FROM users, public.users",
            .to("WITH users AS (SELECT 1) SELECT * FROM users, shared_common.users")
        ),
        .init(
            "SELECT * FROM public.users u JOIN saju_charts c ON c.user_id = u.id",
            .to("SELECT * FROM shared_common.users u JOIN saju_service.saju_charts c ON c.user_id = u.id")
        ),
        .init("INSERT INTO public.users (id) VALUES (1)", .to("INSERT INTO shared_common.users (id) VALUES (1)")),
        .init("UPDATE public.users SET name = 'x' WHERE id = 1", .to(
            "UPDATE shared_common.users SET name = 'x' WHERE id = 1"
        )),
        .init("DELETE FROM public.attachments USING public.users", .to(
            "DELETE FROM shared_common.attachments USING shared_common.users"
        )),
        .init("ALTER TABLE public.users ADD COLUMN age int", .to("ALTER TABLE shared_common.users ADD COLUMN age int")),
        .init("CREATE INDEX ON public.users (id)", .to("CREATE INDEX ON shared_common.users (id)")),
        .init("DROP TABLE public.users", .to("DROP TABLE shared_common.users")),
        .init("DROP TABLE IF EXISTS public.users, other.attachments, PUBLIC.attachments", .to(
            "DROP TABLE IF EXISTS shared_common.users, other.attachments, shared_common.attachments"
        )),
        .init("COMMENT ON COLUMN public.users.id IS 'key'", .to("COMMENT ON COLUMN shared_common.users.id IS 'key'")),
        .init("COMMENT ON TABLE public.t IS 'x'", .same),
        .init("TRUNCATE public.users, public.t", .to("TRUNCATE shared_common.users, public.t")),
        .init("COPY public.users FROM STDIN", .to("COPY shared_common.users FROM STDIN")),
    ]

    /// String constants read as a `regclass`: the first argument of the sequence functions, `to_regclass`,
    /// `pg_get_serial_sequence`, and constants cast to `regclass`. Nothing else in a string is touched.
    static let regclassLiterals: [RewriteCase] = [
        .init("SELECT nextval('attachments_id_seq')", .to("SELECT nextval('shared_common.attachments_id_seq')")),
        .init("SELECT NEXTVAL('ATTACHMENTS_ID_SEQ')", .to("SELECT NEXTVAL('shared_common.ATTACHMENTS_ID_SEQ')")),
        .init("SELECT currval('attachments_id_seq')", .to("SELECT currval('shared_common.attachments_id_seq')")),
        .init("SELECT setval('attachments_id_seq', 42, true)", .to(
            "SELECT setval('shared_common.attachments_id_seq', 42, true)"
        )),
        .init("SELECT pg_catalog.nextval('attachments_id_seq')", .to(
            "SELECT pg_catalog.nextval('shared_common.attachments_id_seq')"
        )),
        .init("SELECT other.nextval('attachments_id_seq')", .same),
        .init("SELECT nextval(regclass => 'attachments_id_seq')", .same),
        .init("SELECT lower('users')", .same),
        .init("SELECT 'users'::regclass", .to("SELECT 'shared_common.users'::regclass")),
        .init("SELECT 'users'::pg_catalog.regclass", .to("SELECT 'shared_common.users'::pg_catalog.regclass")),
        .init("SELECT CAST('users' AS regclass)", .to("SELECT CAST('shared_common.users' AS regclass)")),
        .init("SELECT regclass 'users'", .to("SELECT regclass 'shared_common.users'")),
        .init("SELECT 'users'::text", .same),
        .init("SELECT 'users'::regclass::oid", .to("SELECT 'shared_common.users'::regclass::oid")),
        .init("SELECT to_regclass('users')", .to("SELECT to_regclass('shared_common.users')")),
        .init("SELECT to_regclass('user_summary')", .to("SELECT to_regclass('shared_common.user_summary')")),
        .init("SELECT pg_get_serial_sequence('users', 'id')", .to(
            "SELECT pg_get_serial_sequence('shared_common.users', 'id')"
        )),
        .init("SELECT pg_get_serial_sequence('t', 'users')", .same),
        .init(#"SELECT '"MixedCase"'::regclass"#, .to(#"SELECT '"Analytics"."MixedCase"'::regclass"#)),
        .init("SELECT 'MixedCase'::regclass", .same),
        .init(#"SELECT '"Users"'::regclass"#, .same),
        .init(#"SELECT '"users"'::regclass"#, .to(#"SELECT 'shared_common."users"'::regclass"#)),
        .init("SELECT E'users'::regclass", .to("SELECT E'shared_common.users'::regclass")),
        // The prefilter looks for names as words: one spelled with escapes is not recognised.
        .init(#"SELECT E'user\x73'::regclass"#, .same),
        .init("SELECT ' users '::regclass", .to("SELECT 'shared_common. users '::regclass")),
        .init("SELECT 'line_items'::regclass", .to(#"SELECT '"order".line_items'::regclass"#)),
        .init("SELECT 'other.users'::regclass", .same),
        .init("SELECT 'public.users'::regclass", .to("SELECT 'shared_common.users'::regclass")),
        .init("SELECT to_regclass('PUBLIC.users')", .to("SELECT to_regclass('shared_common.users')")),
        .init(#"SELECT '"public".users'::regclass"#, .to("SELECT 'shared_common.users'::regclass")),
        .init(#"SELECT '"Legacy".events'::regclass"#, .to(#"SELECT '"Analytics".events'::regclass"#)),
        .init("SELECT 'public.unmapped'::regclass", .same),
        .init("SELECT 'a.b.users'::regclass", .same),
        .init("SELECT 'users.'::regclass", .same),
        .init("SELECT 'users'::regclass, 'users'", .to("SELECT 'shared_common.users'::regclass, 'users'")),
        .init("SELECT nextval('attachments_id_seq'::regclass)", .to(
            "SELECT nextval('shared_common.attachments_id_seq'::regclass)"
        )),
        .init(
            "CREATE TABLE t (id int DEFAULT nextval('attachments_id_seq'))",
            .to("CREATE TABLE t (id int DEFAULT nextval('shared_common.attachments_id_seq'))")
        ),
        .init(
            "INSERT INTO users (id) VALUES (nextval('attachments_id_seq')) RETURNING id",
            .to(
                "INSERT INTO shared_common.users (id) VALUES (nextval('shared_common.attachments_id_seq')) RETURNING id"
            )
        ),
        .init(
            "SELECT c.relname FROM pg_class c WHERE c.oid = 'users'::regclass AND c.relname <> 'users'",
            .to(
                "SELECT c.relname FROM pg_class c WHERE c.oid = 'shared_common.users'::regclass "
                    + "AND c.relname <> 'users'"
            )
        ),
    ]
}
