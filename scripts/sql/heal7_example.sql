-- The heal7 example: one database, one application role, three schemas.
-- Run as a superuser with psql:  psql -v app_password=SECRET -d postgres -f heal7_example.sql
--
-- heal7_app's search_path is pg_catalog only, so an unqualified "users" or "dreams" works
-- only when schemaproxy's schema routing qualifies it. That is the point of the demo.

\set ON_ERROR_STOP on
SET client_min_messages = warning;

DROP DATABASE IF EXISTS heal7;
DROP ROLE IF EXISTS heal7_app;

CREATE ROLE heal7_app LOGIN PASSWORD :'app_password';
ALTER ROLE heal7_app SET search_path = pg_catalog;

CREATE DATABASE heal7 ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE heal7 FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE heal7 TO heal7_app;

\connect heal7

CREATE SCHEMA shared_common;
CREATE SCHEMA saju_service;
CREATE SCHEMA dream_service;

CREATE TABLE shared_common.users (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shared_common.attachments (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES shared_common.users (id),
    filename    text NOT NULL,
    size_bytes  integer NOT NULL
);

CREATE TABLE saju_service.saju_charts (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES shared_common.users (id),
    birth_at    timestamp NOT NULL,
    pillars     text[] NOT NULL,
    notes       text
);

CREATE TABLE saju_service.kasi_cache (
    cache_key   text PRIMARY KEY,
    payload     jsonb NOT NULL,
    fetched_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dream_service.dreams (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES shared_common.users (id),
    content     text NOT NULL,
    dreamt_on   date NOT NULL
);

CREATE TABLE dream_service.dream_interpretations (
    id              bigserial PRIMARY KEY,
    dream_id        bigint NOT NULL REFERENCES dream_service.dreams (id),
    interpretation  text NOT NULL,
    confidence      numeric(3,2) NOT NULL
);

INSERT INTO shared_common.users (name, email) VALUES
    ('Kim Minji',  'minji@example.com'),
    ('Lee Jihoon', 'jihoon@example.com'),
    ('Park Seoyeon', 'seoyeon@example.com');

INSERT INTO shared_common.attachments (user_id, filename, size_bytes) VALUES
    (1, 'profile.png', 20480),
    (2, 'birth-certificate.pdf', 112233);

INSERT INTO saju_service.saju_charts (user_id, birth_at, pillars, notes) VALUES
    (1, '1994-03-15 06:30', ARRAY['甲戌', '丁卯', '庚午', '己卯'], 'strong metal'),
    (2, '1988-11-02 23:10', ARRAY['戊辰', '癸亥', '丙子', '戊子'], NULL);

INSERT INTO saju_service.kasi_cache (cache_key, payload) VALUES
    ('lunar:1994-03-15', '{"lunar": "1994-02-04", "leap": false}'),
    ('lunar:1988-11-02', '{"lunar": "1988-09-24", "leap": false}'),
    ('solar-term:1994-03', '{"term": "춘분", "day": 21}');

INSERT INTO dream_service.dreams (user_id, content, dreamt_on) VALUES
    (1, 'Flying over a river of stars', '2026-10-01'),
    (3, 'A white tiger at the gate', '2026-10-07');

INSERT INTO dream_service.dream_interpretations (dream_id, interpretation, confidence) VALUES
    (1, 'A wish for freedom', 0.72),
    (2, 'Protection and good news', 0.85);

GRANT USAGE ON SCHEMA shared_common, saju_service, dream_service TO heal7_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shared_common, saju_service, dream_service TO heal7_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA shared_common, saju_service, dream_service TO heal7_app;
