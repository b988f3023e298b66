from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION flexreg_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER core_auditevent_append_only
    BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION flexreg_refuse_change();
-- Personal values may be erased (DELETE) under UK GDPR but never rewritten.
CREATE TRIGGER core_auditpersonalvalue_no_update
    BEFORE UPDATE ON core_auditpersonalvalue
    FOR EACH ROW EXECUTE FUNCTION flexreg_refuse_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent;
DROP TRIGGER IF EXISTS core_auditpersonalvalue_no_update ON core_auditpersonalvalue;
DROP FUNCTION IF EXISTS flexreg_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        TrigramExtension(),
        UnaccentExtension(),
        migrations.RunSQL(APPEND_ONLY, REVERSE),
    ]
