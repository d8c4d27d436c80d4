-- Generations spoken in one of the built-in voices behind OpenAI's stock voice names
-- (alloy, ash, …), which are no rows of public.voices: `stock_voice` names it, and then
-- `voice_id` is null. `instructions` is the OpenAI request's style prompt, kept with the
-- generation for engines that take one.

alter table public.generations add column if not exists stock_voice text;
alter table public.generations add column if not exists instructions text;

do $$
begin
  if not exists (
    select 1 from pg_constraint where conname = 'generations_stock_voice_length'
  ) then
    alter table public.generations
      add constraint generations_stock_voice_length
      check (stock_voice is null or char_length(stock_voice) between 1 and 40);
  end if;
  if not exists (
    select 1 from pg_constraint where conname = 'generations_instructions_length'
  ) then
    alter table public.generations
      add constraint generations_instructions_length
      check (instructions is null or char_length(instructions) <= 4096);
  end if;
end
$$;
