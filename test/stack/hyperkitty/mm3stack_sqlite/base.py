"""Django's SQLite backend, but transactions take the write lock when they begin.

Django 3.2 opens atomic blocks with a deferred BEGIN. When such a transaction has read and then
writes after another connection committed, SQLite answers "database is locked" at once, without
waiting for the busy timeout. gunicorn workers, hyperkitty_import and qcluster share one SQLite
file, so concurrent archiving lost messages that way (3 parallel imports of 40 messages each kept
5, 16 and 24). BEGIN IMMEDIATE makes writers queue on the busy timeout instead. Django 5.1 has the
same as OPTIONS {"transaction_mode": "IMMEDIATE"}.
"""
from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self):
        self.cursor().execute('BEGIN IMMEDIATE')
