-- The built-in auth (/auth/v1, Supabase Auth's dialect): sessions, rotating
-- refresh tokens, emailed one-time tokens and durable rate-limit counters.
-- They live in the private schema `utter`, which no client role can reach;
-- only the server (service_role) reads and writes them. Tokens are stored as
-- hashes only, so a copy of the database cannot sign anyone in.

-- The migration runner makes the schema; this line lets the file apply by hand too.
create schema if not exists utter;
revoke all on schema utter from public;

-- auth.users: the GoTrue columns the built-in auth writes. Added only where
-- absent (a Supabase project has them all, and there only its auth service may
-- alter the table).
do $$
declare
  col record;
begin
  for col in
    select * from (values
      ('confirmation_sent_at', 'timestamptz'),
      ('recovery_sent_at', 'timestamptz'),
      ('email_change', 'varchar(255)'),
      ('email_change_sent_at', 'timestamptz')
    ) as c(name, type)
  loop
    if not exists (
      select 1 from information_schema.columns
       where table_schema = 'auth' and table_name = 'users' and column_name = col.name
    ) then
      execute format('alter table auth.users add column %I %s', col.name, col.type);
    end if;
  end loop;
end
$$;

-- A signed-in device. Deleting it (logout, reuse of a rotated refresh token)
-- ends it: its refresh tokens go with it and its access tokens stop working.
create table if not exists utter.auth_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  -- How the session began, for the token's `amr` claim.
  method text not null,
  user_agent text,
  ip text,
  created_at timestamptz not null default now(),
  refreshed_at timestamptz,
  constraint auth_sessions_method_check
    check (method in ('password', 'otp', 'recovery', 'email/signup', 'email_change'))
);
create index if not exists idx_auth_sessions_user_id on utter.auth_sessions (user_id);

-- Each refresh swaps a token for its child; a revoked token used again after
-- the reuse interval means it leaked, and the whole session is deleted.
create table if not exists utter.auth_refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references utter.auth_sessions (id) on delete cascade,
  parent_id uuid references utter.auth_refresh_tokens (id) on delete set null,
  token_hash text not null,
  created_at timestamptz not null default now(),
  revoked_at timestamptz,
  constraint auth_refresh_tokens_token_hash_key unique (token_hash)
);
create index if not exists idx_auth_refresh_tokens_session_id
  on utter.auth_refresh_tokens (session_id);
create index if not exists idx_auth_refresh_tokens_parent_id
  on utter.auth_refresh_tokens (parent_id);

-- Emailed links and 6-digit codes: one live token per user and kind. The link
-- carries token_hash's preimage; the code is kept as a keyed hash.
create table if not exists utter.auth_one_time_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  kind text not null,
  -- The address the mail went to (the new one for an email change).
  email text not null,
  token_hash text not null,
  otp_hash text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  constraint auth_one_time_tokens_kind_check
    check (kind in ('signup', 'magiclink', 'recovery', 'email_change')),
  constraint auth_one_time_tokens_token_hash_key unique (token_hash),
  constraint auth_one_time_tokens_user_kind_key unique (user_id, kind)
);
-- Codes are looked up by the address they were sent to.
create index if not exists idx_auth_one_time_tokens_email
  on utter.auth_one_time_tokens (lower(email));

-- Fixed-window counters shared by every API replica.
create table if not exists utter.auth_rate_limits (
  bucket text not null,
  key text not null,
  window_start timestamptz not null,
  hits integer not null,
  primary key (bucket, key)
);
create index if not exists idx_auth_rate_limits_window_start
  on utter.auth_rate_limits (window_start);

-- Grants: the server's service_role only.
grant usage on schema utter to service_role;
revoke all on utter.auth_sessions, utter.auth_refresh_tokens, utter.auth_one_time_tokens,
  utter.auth_rate_limits from public, anon, authenticated;
grant select, insert, update, delete on utter.auth_sessions, utter.auth_refresh_tokens,
  utter.auth_one_time_tokens, utter.auth_rate_limits to service_role;
