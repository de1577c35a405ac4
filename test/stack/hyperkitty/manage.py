#!/usr/bin/python3
"""Django management entry point of the test HyperKitty (hyperkitty_import, update_index_one_list, ...).

The shebang and sys.path pin Debian's interpreter and this directory, so the command works from any
cwd and with a non-Debian python3 first in PATH.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if __name__ == '__main__':
    os.environ['DJANGO_SETTINGS_MODULE'] = 'mm3stack_settings'
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
