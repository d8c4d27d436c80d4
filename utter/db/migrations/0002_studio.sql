-- Utter's own tables: profiles, voices, generations, tasks. Stuck tasks are
-- detectable (started_at, heartbeat_at) and can be failed by fail_stale_tasks(),
-- so no task blocks its user forever; a stored generation always has its duration.

-- Tables --------------------------------------------------------------------

create table if not exists public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  handle text,
  display_name text,
  avatar_url text,
  subscription_tier text not null default 'free',
  credits_remaining integer not null default 100,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint profiles_handle_key unique (handle),
  constraint profiles_handle_format check (handle ~ '^[A-Za-z0-9_]{3,30}$'),
  constraint profiles_display_name_length check (char_length(display_name) between 1 and 100)
);

create table if not exists public.voices (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  name text not null,
  reference_object_key text,
  reference_transcript text,
  language text not null default 'Auto',
  source text not null,
  description text,
  created_at timestamptz not null default now(),
  constraint voices_name_length check (char_length(name) between 1 and 100),
  constraint voices_source_check check (source in ('uploaded', 'designed'))
);

create table if not exists public.generations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  voice_id uuid references public.voices (id) on delete set null,
  text text not null,
  audio_object_key text,
  duration_seconds double precision,
  language text not null default 'Auto',
  status text not null default 'pending',
  generation_time_seconds double precision,
  error_message text,
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  constraint generations_status_check
    check (status in ('pending', 'processing', 'completed', 'failed', 'cancelled')),
  -- Audio is never stored without its duration (the history and the daily totals
  -- read it), and a completed generation always has audio.
  constraint generations_audio_has_duration
    check (audio_object_key is null or duration_seconds is not null),
  constraint generations_completed_has_audio
    check (status <> 'completed' or audio_object_key is not null),
  constraint generations_duration_nonnegative check (duration_seconds >= 0)
);

create table if not exists public.tasks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  type text not null,
  status text not null default 'pending',
  modal_job_id text,
  generation_id uuid references public.generations (id) on delete set null,
  voice_id uuid references public.voices (id) on delete set null,
  modal_poll_count integer not null default 0,
  metadata jsonb not null default '{}'::jsonb,
  result jsonb,
  error text,
  -- When a worker took the task and when it last said it was alive, so a task
  -- whose worker died can be found and failed.
  started_at timestamptz,
  heartbeat_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz,
  constraint tasks_type_check check (type in ('generate', 'design_preview', 'clone')),
  constraint tasks_status_check
    check (status in ('pending', 'processing', 'completed', 'failed', 'cancelled'))
);

-- Indexes -------------------------------------------------------------------

create index if not exists idx_voices_user_id_created on public.voices (user_id, created_at desc);
create index if not exists idx_generations_user_id_created
  on public.generations (user_id, created_at desc);
create index if not exists idx_tasks_user_id on public.tasks (user_id);
create index if not exists idx_generations_voice_id on public.generations (voice_id);
create index if not exists idx_tasks_generation_id on public.tasks (generation_id);
create index if not exists idx_tasks_voice_id on public.tasks (voice_id);
create index if not exists idx_tasks_modal_job_id on public.tasks (modal_job_id)
  where modal_job_id is not null;
create index if not exists idx_tasks_active on public.tasks (created_at)
  where status in ('pending', 'processing');

-- One active generate task per user. Before the guard can exist, any user with
-- several active generate tasks keeps only the newest (the one the user last asked for).
with ranked as (
  select id, generation_id,
         row_number() over (partition by user_id order by created_at desc, id desc) as rn
  from public.tasks
  where type = 'generate' and status in ('pending', 'processing')
),
superseded as (
  update public.tasks t
     set status = 'failed', error = 'Superseded by a newer generation request.',
         completed_at = now()
    from ranked r
   where t.id = r.id and r.rn > 1
  returning t.generation_id
)
update public.generations g
   set status = 'failed', error_message = 'Superseded by a newer generation request.',
       completed_at = now()
  from superseded s
 where g.id = s.generation_id and g.status in ('pending', 'processing');

create unique index if not exists idx_tasks_generate_one_active_per_user
  on public.tasks (user_id)
  where type = 'generate' and status in ('pending', 'processing');

-- Functions and triggers ----------------------------------------------------

-- Forces updated_at to the time of the update, whatever the caller sent.
create or replace function public.handle_updated_at() returns trigger
  language plpgsql
  set search_path = ''
  as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

drop trigger if exists set_updated_at on public.profiles;
create trigger set_updated_at before update on public.profiles
  for each row execute function public.handle_updated_at();
drop trigger if exists set_updated_at on public.tasks;
create trigger set_updated_at before update on public.tasks
  for each row execute function public.handle_updated_at();

-- Every new account gets a profile.
create or replace function public.handle_new_user() returns trigger
  language plpgsql
  security definer
  set search_path = ''
  as $$
begin
  insert into public.profiles (id) values (new.id) on conflict (id) do nothing;
  return new;
end;
$$;

drop trigger if exists on_auth_user_created on auth.users;
create trigger on_auth_user_created after insert on auth.users
  for each row execute function public.handle_new_user();

create or replace function public.increment_task_modal_poll_count(p_task_id uuid, p_user_id uuid)
  returns integer
  language sql
  security definer
  set search_path = ''
  as $$
    update public.tasks
       set modal_poll_count = modal_poll_count + 1
     where id = p_task_id and user_id = p_user_id
    returning modal_poll_count;
$$;

-- No task may block a user forever. A processing task whose worker has
-- not sent a heartbeat within p_processing_timeout, or a task still pending
-- after p_pending_timeout, is failed together with its generation; that also
-- frees the one-active-generate guard. Returns the ids it failed.
create or replace function public.fail_stale_tasks(
  p_processing_timeout interval,
  p_pending_timeout interval
) returns setof uuid
  language sql
  security definer
  set search_path = ''
  as $$
    with stale as (
      update public.tasks
         set status = 'failed',
             error = case status
               when 'processing' then 'The worker stopped responding. Please try again.'
               else 'No worker picked up this task in time. Please try again.'
             end,
             completed_at = now()
       where (status = 'processing'
              and coalesce(heartbeat_at, started_at, updated_at) < now() - p_processing_timeout)
          or (status = 'pending' and created_at < now() - p_pending_timeout)
      returning id, generation_id, error, created_at
    ),
    failed_generations as (
      update public.generations g
         set status = 'failed', error_message = s.error, completed_at = now(),
             generation_time_seconds = extract(epoch from now() - s.created_at)
        from stale s
       where g.id = s.generation_id and g.status in ('pending', 'processing')
      returning g.id
    )
    select id from stale;
$$;

-- Row-level security ----------------------------------------------------------

alter table public.profiles enable row level security;
alter table public.voices enable row level security;
alter table public.generations enable row level security;
alter table public.tasks enable row level security;

drop policy if exists profiles_select_own on public.profiles;
create policy profiles_select_own on public.profiles
  for select to authenticated using ((select auth.uid()) = id);

drop policy if exists voices_select_own on public.voices;
create policy voices_select_own on public.voices
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists voices_delete_own on public.voices;
create policy voices_delete_own on public.voices
  for delete to authenticated using ((select auth.uid()) = user_id);

drop policy if exists generations_select_own on public.generations;
create policy generations_select_own on public.generations
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists generations_delete_own on public.generations;
create policy generations_delete_own on public.generations
  for delete to authenticated using ((select auth.uid()) = user_id);

drop policy if exists tasks_select_own on public.tasks;
create policy tasks_select_own on public.tasks
  for select to authenticated using ((select auth.uid()) = user_id);

-- Grants --------------------------------------------------------------------
-- Stated in full rather than as revokes from Supabase's defaults, so a plain
-- Postgres and a Supabase project end in the same state: clients may read
-- their own rows and delete their own voices and generations; every other
-- write goes through the server's service role. anon gets nothing.

grant usage on schema public to anon, authenticated, service_role;

revoke all on public.profiles, public.voices, public.generations, public.tasks
  from public, anon, authenticated;
grant select on public.profiles to authenticated;
grant select, delete on public.voices to authenticated;
grant select, delete on public.generations to authenticated;
grant select on public.tasks to authenticated;
grant all on public.profiles, public.voices, public.generations, public.tasks to service_role;

revoke all on function public.handle_updated_at() from public, anon, authenticated;
revoke all on function public.handle_new_user() from public, anon, authenticated;
revoke all on function public.increment_task_modal_poll_count(uuid, uuid)
  from public, anon, authenticated;
revoke all on function public.fail_stale_tasks(interval, interval)
  from public, anon, authenticated;
grant execute on function public.increment_task_modal_poll_count(uuid, uuid) to service_role;
grant execute on function public.fail_stale_tasks(interval, interval) to service_role;
