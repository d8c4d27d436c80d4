-- Audio that is heard while it is made, and the speed it is spoken at.
--
-- tasks.audio_parts: the pieces of a generation a worker has published so far, in order,
-- one per engine chunk: [{"index": 0, "key": "{user}/{generation}/part-0000.wav",
-- "duration_seconds": 1.8}, ...] (keys in the `generations` bucket). Each append is
-- announced with pg_notify('utter_audio_parts', '<task id>') in the same transaction, so
-- a stream waiting on LISTEN wakes only once the piece is visible. The pieces serve
-- listening while the task runs; the finished clip is what History keeps, and the sweeper
-- removes the pieces an hour after the task ended (the index below finds them).
--
-- generations.speed: the tempo the clip is spoken at (1.0 as the engine speaks it),
-- applied by the worker to each piece and to the finished clip.
--
-- Only the server writes either: `authenticated` keeps the table grants of
-- 0002_studio.sql (select, and delete on generations), so no client can set them.

alter table public.tasks
  add column if not exists audio_parts jsonb not null default '[]'::jsonb;

create index if not exists idx_tasks_audio_parts_finished on public.tasks (completed_at)
  where audio_parts <> '[]'::jsonb;

alter table public.generations
  add column if not exists speed real not null default 1.0;

do $$
begin
  if not exists (
    select 1 from pg_constraint
     where conname = 'generations_speed_range' and conrelid = 'public.generations'::regclass
  ) then
    alter table public.generations
      add constraint generations_speed_range check (speed between 0.25 and 4.0);
  end if;
end
$$;

-- A stream also wakes when a generate task ends (completed, failed, cancelled, by
-- whichever path), so it closes at once rather than at its next poll.
create or replace function public.notify_task_ended()
returns trigger
language plpgsql
as $$
begin
  perform pg_notify('utter_audio_parts', new.id::text);
  return null;
end
$$;

drop trigger if exists tasks_notify_ended on public.tasks;
create trigger tasks_notify_ended
  after update of status on public.tasks
  for each row
  when (new.type = 'generate' and old.status is distinct from new.status
        and new.status in ('completed', 'failed', 'cancelled'))
  execute function public.notify_task_ended();
-- Called by the trigger only: closed to clients, as every server function is.
revoke all on function public.notify_task_ended() from public, anon, authenticated;
