-- Reference handling: a voice keeps its original upload
-- (under its real extension) beside the normalised reference (mono 24 kHz PCM16
-- WAV), knows its duration, and stores the reference report measured at clone time.

alter table public.voices add column if not exists original_object_key text;
alter table public.voices add column if not exists duration_seconds double precision;
alter table public.voices add column if not exists reference_report jsonb;

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'voices_duration_nonnegative') then
    alter table public.voices add constraint voices_duration_nonnegative
      check (duration_seconds >= 0);
  end if;
end
$$;

