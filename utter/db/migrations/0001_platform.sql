-- The platform Supabase provides, created only where it is absent, so that the
-- same migrations run on a plain Postgres (embedded or managed) and on a real
-- Supabase project, where all of this exists already and is left alone.
--
--   * roles anon, authenticated, service_role
--   * schema auth: auth.users and auth.uid() / auth.role() / auth.jwt()
--   * schema storage: storage.buckets, storage.objects, storage.foldername()

-- Roles ---------------------------------------------------------------------

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    -- The server's own writes; it bypasses RLS as Supabase's service key does.
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;

-- The role that runs the server must be able to SET ROLE to each of them.
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not pg_has_role(current_user, r, 'member') then
      execute format('grant %I to %I', r, current_user);
    end if;
  end loop;
end
$$;

-- auth ----------------------------------------------------------------------

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

-- A subset of GoTrue's auth.users with the same column names and types, so the
-- built-in auth and a hosted Supabase Auth read and write the same rows.
create table if not exists auth.users (
  id uuid primary key default gen_random_uuid(),
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  is_anonymous boolean not null default false
);
create unique index if not exists users_email_key on auth.users (lower(email));

-- No client role reads auth.users directly; the server's auth code owns it.
revoke all on auth.users from anon, authenticated;
grant all on auth.users to service_role;

-- auth.uid(): the caller's user id from the claims PostgREST (or Utter's
-- as_user()) put in request.jwt.claims. nullif guards the '' that a
-- transaction-local setting leaves behind once the transaction ends.
do $$
begin
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
      language sql stable
      as $fn$
        select coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
        )::uuid
      $fn$;
  end if;
  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
      language sql stable
      as $fn$
        select coalesce(
          nullif(current_setting('request.jwt.claim.role', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
        )::text
      $fn$;
  end if;
  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
      language sql stable
      as $fn$
        select coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
      $fn$;
  end if;
end
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;

-- storage -------------------------------------------------------------------

create schema if not exists storage;
grant usage on schema storage to anon, authenticated, service_role;

-- Supabase Storage's catalogue, reduced to the columns Utter uses; the local
-- storage backend records every object here so the same policies govern it.
create table if not exists storage.buckets (
  id text primary key,
  name text not null,
  owner uuid,
  public boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
create unique index if not exists bname on storage.buckets (name);

create table if not exists storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  owner_id text,
  metadata jsonb,
  user_metadata jsonb,
  version text,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now()
);
-- Also serves the bucket_id foreign key (its leading column).
create unique index if not exists bucketid_objname on storage.objects (bucket_id, name);

do $$
begin
  if to_regprocedure('storage.foldername(text)') is null then
    create function storage.foldername(name text) returns text[]
      language sql immutable
      as $fn$
        select (string_to_array(name, '/'))[1:array_length(string_to_array(name, '/'), 1) - 1]
      $fn$;
  end if;
  if to_regprocedure('storage.filename(text)') is null then
    create function storage.filename(name text) returns text
      language sql immutable
      as $fn$
        select (string_to_array(name, '/'))[array_length(string_to_array(name, '/'), 1)]
      $fn$;
  end if;
end
$$;

-- Enable RLS only where it is off: on Supabase the tables belong to the
-- storage service and already have it, and only their owner may alter them.
do $$
begin
  if not (select relrowsecurity from pg_class where oid = 'storage.objects'::regclass) then
    alter table storage.objects enable row level security;
  end if;
  if not (select relrowsecurity from pg_class where oid = 'storage.buckets'::regclass) then
    alter table storage.buckets enable row level security;
  end if;
end
$$;

revoke all on storage.objects, storage.buckets from anon, authenticated;
grant select, insert on storage.objects to authenticated;
grant all on storage.objects, storage.buckets to service_role;
