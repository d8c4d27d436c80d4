"""Accounts: the built-in Supabase-compatible auth (/auth/v1), tokens, mail, rate limits."""
