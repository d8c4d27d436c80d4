-- Fair share between users: what each user used per UTC day (characters sent to be
-- spoken, seconds of audio transcribed), for the optional daily limits, and the
-- two-step clone upload URLs handed out, so their number per user can be capped and
-- abandoned uploads can be found and deleted on any storage backend (a presigned S3
-- PUT leaves no trace in the catalogue until it is confirmed).

create table if not exists public.usage_daily (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  day date not null,  -- the UTC calendar day
  characters bigint not null default 0,
  transcription_seconds double precision not null default 0,
  updated_at timestamptz not null default now(),
  constraint usage_daily_user_day_key unique (user_id, day),
  constraint usage_daily_characters_nonnegative check (characters >= 0),
  constraint usage_daily_transcription_nonnegative check (transcription_seconds >= 0)
);

-- Upload grants are the server's bookkeeping only: schema utter, service_role only.
create table if not exists utter.upload_grants (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  voice_id uuid not null,
  bucket text not null,
  object_key text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,   -- when the signed URL stops working
  sweep_after timestamptz not null   -- when an unfinished upload is deleted
);
create index if not exists idx_upload_grants_user_id on utter.upload_grants (user_id, expires_at);
create index if not exists idx_upload_grants_sweep_after on utter.upload_grants (sweep_after);

-- Row-level security: a user may read their own usage; every write is the server's.
alter table public.usage_daily enable row level security;

drop policy if exists usage_daily_select_own on public.usage_daily;
create policy usage_daily_select_own on public.usage_daily
  for select to authenticated using ((select auth.uid()) = user_id);

revoke all on public.usage_daily from public, anon, authenticated;
grant select on public.usage_daily to authenticated;
grant all on public.usage_daily to service_role;

revoke all on utter.upload_grants from public, anon, authenticated;
grant select, insert, update, delete on utter.upload_grants to service_role;
