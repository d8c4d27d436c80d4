-- Durable jobs: what workers report while a task runs, how often a task
-- was attempted, which queue job carries it, and the waveform of finished audio.
-- The queue itself is procrastinate's, installed by the migration runner into the
-- private schema `procrastinate` before these files run.

alter table public.tasks add column if not exists chunks_done integer not null default 0;
alter table public.tasks add column if not exists chunks_total integer;
alter table public.tasks add column if not exists attempts integer not null default 0;
alter table public.tasks add column if not exists queue_job_id bigint;

-- A few hundred peak values in 0..1, so lists draw waveforms without the audio.
alter table public.generations add column if not exists peaks real[];

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'tasks_progress_check') then
    alter table public.tasks add constraint tasks_progress_check
      check (chunks_done >= 0 and (chunks_total is null or chunks_done <= chunks_total)
             and attempts >= 0);
  end if;
  if not exists (select 1 from pg_constraint where conname = 'generations_peaks_length') then
    alter table public.generations add constraint generations_peaks_length
      check (peaks is null or cardinality(peaks) <= 2000);
  end if;
end
$$;

-- Workers look for stuck tasks by heartbeat.
create index if not exists idx_tasks_processing_heartbeat on public.tasks (heartbeat_at)
  where status = 'processing';

-- The server defers queue jobs inside the same transaction that creates the
-- task (as service_role), and workers run as the owner. Clients get nothing:
-- the schema is not theirs to use. Guarded so these files also apply by hand
-- on a database without the queue.
do $$
begin
  if to_regnamespace('procrastinate') is not null then
    revoke all on schema procrastinate from public, anon, authenticated;
    grant usage on schema procrastinate to service_role;
    grant all on all tables in schema procrastinate to service_role;
    grant all on all sequences in schema procrastinate to service_role;
    grant execute on all functions in schema procrastinate to service_role;
    revoke execute on all functions in schema procrastinate from public, anon, authenticated;
  end if;
end
$$;
