"""Accent- and case-insensitive search: the unaccent extension and an indexable fold function.

``ioc_fold(text)`` lower-cases, strips Vietnamese diacritics through ``unaccent`` and maps
đ/Đ to d explicitly (so "dong hy" matches "Đồng Hỷ" whatever unaccent's rules file says).
It is IMMUTABLE (unaccent() itself is only STABLE) so that expression indexes may use it.
"""

from django.db import migrations

FOLD_SQL = """
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE OR REPLACE FUNCTION ioc_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT lower(translate(unaccent('unaccent'::regdictionary, translate(t, 'đĐ', 'dD')), 'đĐ', 'dD'))
$$;
"""

REVERSE_SQL = "DROP FUNCTION IF EXISTS ioc_fold(text);"


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations = [migrations.RunSQL(FOLD_SQL, REVERSE_SQL)]
