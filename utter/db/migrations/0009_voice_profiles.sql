-- What the `local` engine measured about a voice's speaker (pitch, spectral envelope,
-- breathiness, pace), stored when the voice is made so that no worker analyses the same
-- reference twice. JSON: {"version": n, "profile": {...} | null}; a record whose version
-- is not the engine's current one is re-analysed and replaced by a worker. Null: not
-- analysed yet (voices made before this column, or under another engine).
--
-- Only the server writes it: `authenticated` keeps the table grants of 0002_studio.sql
-- (select and delete, no insert or update), so no client route can set or change it.

alter table public.voices add column if not exists speaker_profile jsonb;
