-- The two private buckets and their per-user policies. Every object
-- key starts with its owner's user id; a user may read (and, in references,
-- create) only objects under their own folder. No UPDATE or DELETE policy:
-- the server removes objects with the service role after checking ownership.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values
  -- 50 MiB: exactly what the clone page accepts, so the bucket never refuses an
  -- upload the page allowed (a smaller bucket limit made big uploads fail obscurely).
  ('references', 'references', false, 52428800,
   array['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/mpeg', 'audio/mp3', 'audio/mp4',
         'audio/m4a', 'audio/x-m4a', 'audio/aac', 'audio/ogg', 'audio/opus', 'audio/webm',
         'audio/flac', 'audio/x-flac', 'video/webm']),
  ('generations', 'generations', false, null, null)
on conflict (id) do update
  set public = excluded.public,
      file_size_limit = excluded.file_size_limit,
      allowed_mime_types = excluded.allowed_mime_types;

drop policy if exists references_select_own on storage.objects;
create policy references_select_own on storage.objects
  for select to authenticated
  using (bucket_id = 'references'
         and (select auth.uid())::text = (storage.foldername(name))[1]);

drop policy if exists references_insert_own on storage.objects;
create policy references_insert_own on storage.objects
  for insert to authenticated
  with check (bucket_id = 'references'
              and (select auth.uid())::text = (storage.foldername(name))[1]);

drop policy if exists generations_select_own on storage.objects;
create policy generations_select_own on storage.objects
  for select to authenticated
  using (bucket_id = 'generations'
         and (select auth.uid())::text = (storage.foldername(name))[1]);
