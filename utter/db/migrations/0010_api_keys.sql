-- Personal API keys: a secret a user makes on the Account page for scripts and OpenAI
-- clients, sent as `Authorization: Bearer sk-utter-…`, acting as its owner under the
-- same row-level security as the owner's session. Only the secret's SHA-256 is kept
-- (it is 32 random bytes, so a fast hash suffices), so a copy of the database cannot
-- act for anyone; `prefix` (its first 16 characters) tells keys apart in lists.

create table if not exists public.api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  name text not null,
  prefix text not null,
  key_hash bytea not null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  constraint api_keys_key_hash_key unique (key_hash),
  constraint api_keys_key_hash_sha256 check (octet_length(key_hash) = 32),
  constraint api_keys_name_length check (char_length(name) between 1 and 100)
);
-- The owner's list, newest first.
create index if not exists idx_api_keys_user_created
  on public.api_keys (user_id, created_at desc, id desc);

-- Whether the key `p_key_id` of `p_user_id` still exists, noting its use: last_used_at
-- is written at most once a minute, so a key polled every second costs no write per
-- request. Run by the server as the owner role, in the statement that opens a caller's
-- transaction (a revoked key is refused before anything is read) and in the lookup by
-- hash.
create or replace function utter.touch_api_key(p_key_id uuid, p_user_id uuid)
returns boolean
language sql
volatile
set search_path = ''
as $$
  with touched as (
    update public.api_keys
       set last_used_at = now()
     where id = p_key_id
       and user_id = p_user_id
       and (last_used_at is null or last_used_at < now() - interval '1 minute')
    returning id
  )
  select exists (select 1 from public.api_keys where id = p_key_id and user_id = p_user_id)
$$;

-- Row-level security: a user may read their own keys, never their hashes; every write
-- (create with the limit on their number, revoke) is the server's, after it checked who
-- is asking.
alter table public.api_keys enable row level security;

drop policy if exists api_keys_select_own on public.api_keys;
create policy api_keys_select_own on public.api_keys
  for select to authenticated using ((select auth.uid()) = user_id);

revoke all on public.api_keys from public, anon, authenticated;
grant select (id, user_id, name, prefix, created_at, last_used_at)
  on public.api_keys to authenticated;
grant select, insert, update, delete on public.api_keys to service_role;

revoke all on function utter.touch_api_key(uuid, uuid) from public, anon, authenticated;
grant execute on function utter.touch_api_key(uuid, uuid) to service_role;
