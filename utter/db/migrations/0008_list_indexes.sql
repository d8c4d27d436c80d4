-- Lists that stay fast with a million rows: indexes that match each list's sort
-- and filters, and compact waveform peaks.
--
-- The row-level security policies compare user_id with `(select auth.uid())`, a
-- sub-select Postgres evaluates once per query (an InitPlan), so their predicate
-- is an index condition on user_id like any other; no policy needs changing.
--
-- Search has no index of its own: under row-level security Postgres may use an
-- index only for leakproof operators, and ILIKE is not one (marking it so needs a
-- superuser, which Supabase does not give), so a trigram index would never serve
-- a client's query. A search reads the caller's rows in list order from the
-- (user_id, created_at, id) index and stops once its page is full.

-- Peaks: a few hundred real values per row (1.6 kB, and costly to decode in a
-- list) become at most 200 bytes, one 0..255 level per slice (the loudest value
-- of the old slices it covers). Done once, where the column is still real[].
do $$
begin
  if exists (
    select 1 from pg_attribute
     where attrelid = 'public.generations'::regclass and attname = 'peaks'
       and atttypid = 'real[]'::regtype and not attisdropped
  ) then
    create function pg_temp.utter_peaks_u8(p real[]) returns bytea
      language sql immutable strict
      as $fn$
        select coalesce(decode(string_agg(lpad(to_hex(level), 2, '0'), '' order by slot), 'hex'),
                        ''::bytea)
          from (select slot, round(greatest(0, least(1, coalesce(max(v), 0))) * 255)::int as level
                  from (select v, ((o - 1) * least(cardinality(p), 200)) / cardinality(p) as slot
                          from unnest(p) with ordinality as u (v, o)) s
                 group by slot) l
      $fn$;
    alter table public.generations drop constraint if exists generations_peaks_length;
    alter table public.generations
      alter column peaks type bytea using pg_temp.utter_peaks_u8(peaks);
    drop function pg_temp.utter_peaks_u8(real[]);
  end if;
  -- The same name as the real[] check it replaces, which 0005 adds where it is missing.
  if not exists (select 1 from pg_constraint where conname = 'generations_peaks_length') then
    alter table public.generations add constraint generations_peaks_length
      check (peaks is null or octet_length(peaks) <= 2000);
  end if;
end
$$;

comment on column public.generations.peaks is
  'Waveform overview: one byte per slice, the loudest sample of the slice as 0..255 of the loudest slice.';

-- Each list is newest first with the id as tie-breaker, under user_id from the
-- policy; its filters (status, source) sit between user_id and the sort.
create index if not exists idx_generations_user_created_id
  on public.generations (user_id, created_at desc, id desc);
create index if not exists idx_generations_user_status_created_id
  on public.generations (user_id, status, created_at desc, id desc);
create index if not exists idx_voices_user_created_id
  on public.voices (user_id, created_at desc, id desc);
create index if not exists idx_voices_user_source_created_id
  on public.voices (user_id, source, created_at desc, id desc);

-- The (user_id, created_at desc) indexes these extend serve nothing they do not.
drop index if exists public.idx_generations_user_id_created;
drop index if exists public.idx_voices_user_id_created;
