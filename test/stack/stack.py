#!/usr/bin/python3
"""Start, stop and inspect a throw-away Mailman 3 core + HyperKitty stack on 127.0.0.1.

    stack.py start [--fresh] WORKDIR    start (or confirm already running); writes WORKDIR/stack.json
    stack.py stop WORKDIR               stop exactly the processes this tool started for WORKDIR
    stack.py status WORKDIR             exit 0 if the recorded stack answers, 1 otherwise

All state lives under WORKDIR (core/var, web/hyperkitty.db, web/fulltext_index, logs/, run/).
Environment: MM3_REST_PORT, MM3_LMTP_PORT, HK_PORT pick ports (free ones otherwise);
MM3_STACK_START_TIMEOUT (s, default 180); MM3_STACK_QCLUSTER=1 runs a django-q cluster instead of
running HyperKitty's tasks inline; MM3_STACK_ALL_RUNNERS=1 also starts the core's bounces, command,
digest, task and virgin runners (out, retry and nntp never run: nothing is sent). Runs under Debian's /usr/bin/python3 on purpose: the Debian
packages are not importable from another interpreter (pyenv etc.).
"""
import base64
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = '/usr/bin/python3'
MAILMAN_BIN = '/usr/bin/mailman'
MASTER_BIN = '/usr/lib/mailman3/bin/master'
REQUIRED_MODULES = ('mailman', 'hyperkitty', 'django_mailman3', 'django_q', 'mailman_hyperkitty',
                    'gunicorn', 'whoosh', 'haystack')
REST_USER = 'restadmin'
STACK_VERSION = 1


class StackError(Exception):
    pass


# ---------------------------------------------------------------- paths

class Layout:
    def __init__(self, workdir):
        self.root = os.path.abspath(workdir)
        self.core = os.path.join(self.root, 'core')
        self.core_var = os.path.join(self.core, 'var')
        self.mailman_cfg = os.path.join(self.core, 'mailman.cfg')
        self.hyperkitty_cfg = os.path.join(self.core, 'mailman-hyperkitty.cfg')
        self.web = os.path.join(self.root, 'web')
        self.web_state = os.path.join(self.web, 'state')
        self.database = os.path.join(self.web_state, 'hyperkitty.db')
        self.fulltext_index = os.path.join(self.web_state, 'fulltext_index')
        self.manage_py = os.path.join(self.web, 'manage.py')
        self.logs = os.path.join(self.root, 'logs')
        self.run = os.path.join(self.root, 'run')
        self.stack_json = os.path.join(self.root, 'stack.json')
        self.lock = os.path.join(self.root, '.stack.lock')

    def pid_file(self, name):
        return os.path.join(self.run, name + '.pid')

    def children_file(self, name):
        return os.path.join(self.run, name + '.children')

    def log(self, name):
        return os.path.join(self.logs, name)


SERVICES = ('core', 'hyperkitty', 'qcluster')


# ---------------------------------------------------------------- processes

def read_cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as fh:
            return fh.read().replace(b'\0', b' ').decode('utf-8', 'replace')
    except OSError:
        return None


def is_ours(pid, layout):
    """Guards every signal against pid reuse: our processes all name the work dir on their command line."""
    cmdline = read_cmdline(pid)
    if cmdline is None:
        return False
    try:
        with open('/proc/%d/stat' % pid, 'rb') as fh:
            state = fh.read().rsplit(b')', 1)[1].split()[0]
        if state == b'Z':
            return False
    except (OSError, IndexError):
        return False
    return layout.root in cmdline


def all_ppids():
    table = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as fh:
                fields = fh.read().rsplit(b')', 1)[1].split()
            table[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    return table


def descendants(pids):
    table = all_ppids()
    found, frontier = set(), set(pids)
    while frontier:
        nxt = {pid for pid, ppid in table.items() if ppid in frontier and pid not in found}
        found |= nxt
        frontier = nxt
    return found


def read_pids(path):
    try:
        with open(path, encoding='ascii') as fh:
            return [int(tok) for tok in fh.read().split()]
    except (OSError, ValueError):
        return []


def write_text(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as fh:
        fh.write(text)
    os.replace(tmp, path)


def launch(layout, name, argv, cwd, env):
    """Starts a service in its own session (no signals from the caller's terminal) and records its pid."""
    out = open(layout.log(name + '.out'), 'ab')
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    out.close()
    write_text(layout.pid_file(name), '%d\n' % proc.pid)
    return proc


def record_children(layout, name):
    pids = read_pids(layout.pid_file(name))
    kids = sorted(pid for pid in descendants(pids) if is_ours(pid, layout))
    write_text(layout.children_file(name), ''.join('%d\n' % pid for pid in kids))
    return kids


def recorded_pids(layout):
    pids = set()
    for name in SERVICES:
        pids.update(read_pids(layout.pid_file(name)))
        pids.update(read_pids(layout.children_file(name)))
    return pids


def stop_processes(layout, grace=20.0):
    roots = recorded_pids(layout)
    targets = {pid for pid in roots | descendants(roots) if is_ours(pid, layout)}
    for pid in targets:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        targets = {pid for pid in targets if is_ours(pid, layout)}
        if not targets:
            break
        time.sleep(0.2)
    for pid in targets:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while targets and time.monotonic() < deadline:
        targets = {pid for pid in targets if is_ours(pid, layout)}
        time.sleep(0.1)
    for name in SERVICES:
        for path in (layout.pid_file(name), layout.children_file(name)):
            if os.path.exists(path):
                os.unlink(path)
    if targets:
        raise StackError('processes did not exit even after SIGKILL: %s' % sorted(targets))


# ---------------------------------------------------------------- network

def port_answers(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(('127.0.0.1', port)) == 0


def pick_ports(count):
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(('127.0.0.1', 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def env_port(name):
    value = os.environ.get(name)
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise StackError('%s=%r is not a TCP port' % (name, value))
    return int(value)


def http_status(url, auth=None, timeout=3.0):
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(('%s:%s' % auth).encode()).decode()
        request.add_header('Authorization', 'Basic ' + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


def stack_answers(info):
    rest = http_status(info['restUrl'] + '/3.1/system/versions', (info['restUser'], info['restPassword']))
    web = http_status(info['hyperkittyUrl'] + '/')
    return rest == 200 and web == 200


# ---------------------------------------------------------------- configuration

def check_installed():
    missing = [path for path in (PYTHON, MAILMAN_BIN, MASTER_BIN) if not os.path.exists(path)]
    if os.path.exists(PYTHON):
        probe = subprocess.run(
            [PYTHON, '-c', 'import importlib.util, sys\n'
             'print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))']
            + list(REQUIRED_MODULES), capture_output=True, text=True, env=clean_env())
        absent = probe.stdout.strip() if probe.returncode == 0 else probe.stderr.strip()
        if absent:
            missing.append('python modules: ' + absent)
    if missing:
        raise StackError('Mailman 3 stack is not installed (missing %s); run test/stack/install.sh as root'
                         % '; '.join(missing))


def clean_env():
    """Environment for the services: Debian's interpreter only, no foreign Python paths."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('PYTHON', 'PYENV', 'VIRTUAL_ENV', 'DJANGO_', 'MAILMAN_'))}
    env['PATH'] = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    env['LANG'] = env.get('LANG') or 'C.UTF-8'
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    return env


# Queue consumers that neither REST, LMTP delivery nor archiving need. Each is a Python process that
# imports all of Mailman, which is most of the core's start time on 2 cores; their queues just fill up.
OPTIONAL_RUNNERS = ('bounces', 'command', 'digest', 'task', 'virgin')


def write_core_config(layout, rest_port, lmtp_port, rest_password, hk_url, archiver_key, all_runners):
    optional_runners = '' if all_runners else ''.join(
        '\n[runner.%s]\nstart: no\n' % name for name in OPTIONAL_RUNNERS)
    write_text(layout.mailman_cfg, f"""\
# Written by mm2migrate test/stack/stack.py; regenerated on every start.
[mailman]
layout: here
site_owner: postmaster@stack.invalid
default_language: en

[paths.here]
var_dir: {layout.core_var}
bin_dir: /usr/lib/mailman3/bin
log_dir: {layout.logs}/core
pid_file: {layout.core_var}/master.pid

[database]
class: mailman.database.sqlite.SQLiteDatabase
url: sqlite:///$DATA_DIR/mailman.db

[logging.root]
level: info

[webservice]
hostname: 127.0.0.1
port: {rest_port}
use_https: no
show_tracebacks: yes
api_version: 3.1
admin_user: {REST_USER}
admin_pass: {rest_password}

[mta]
# NullMTA: no alias maps for an MTA. Outgoing mail is never sent because the out runner is not
# started: messages stay in var/queue/out.
incoming: mailman.mta.null.NullMTA
outgoing: mailman.mta.deliver.deliver
smtp_host: 127.0.0.1
smtp_port: 9
lmtp_host: 127.0.0.1
lmtp_port: {lmtp_port}

[runner.out]
start: no

[runner.retry]
start: no

# Its gatenews subprocess lacks --run-as-root and fails every few seconds when run as root.
[runner.nntp]
start: no
{optional_runners}
[archiver.hyperkitty]
class: mailman_hyperkitty.Archiver
enable: yes
configuration: {layout.hyperkitty_cfg}
""")
    write_text(layout.hyperkitty_cfg, f"""\
[general]
base_url: {hk_url}/
api_key: {archiver_key}
""")


def write_web_project(layout, local):
    for name in ('mm3stack_settings.py', 'mm3stack_urls.py', 'mm3stack_wsgi.py', 'manage.py',
                 'mm3stack_sqlite/__init__.py', 'mm3stack_sqlite/base.py'):
        target = os.path.join(layout.web, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(HERE, 'hyperkitty', name), target)
    os.chmod(layout.manage_py, 0o755)
    write_text(os.path.join(layout.web, 'stack_local.json'), json.dumps(local, indent=2) + '\n')


# ---------------------------------------------------------------- commands

def tail(path, lines=40):
    try:
        with open(path, 'rb') as fh:
            data = fh.read()[-20000:].decode('utf-8', 'replace').splitlines()
        return '\n'.join(data[-lines:])
    except OSError:
        return '(no %s)' % path


def log_tails(layout):
    parts = []
    for name in ('core.out', 'core/mailman.log', 'migrate.log', 'hyperkitty.out', 'hyperkitty.log',
                 'qcluster.out'):
        path = layout.log(name)
        if os.path.exists(path):
            parts.append('--- %s\n%s' % (path, tail(path)))
    return '\n'.join(parts)


def load_info(layout):
    try:
        with open(layout.stack_json, encoding='utf-8') as fh:
            info = json.load(fh)
        return info if info.get('stackVersion') == STACK_VERSION else None
    except (OSError, ValueError):
        return None


def running_info(layout):
    info = load_info(layout)
    if info is None:
        return None
    main_pids = [info['pids'].get(name) for name in ('core', 'hyperkitty')]
    if not all(isinstance(pid, int) and is_ours(pid, layout) for pid in main_pids):
        return None
    return info if stack_answers(info) else None


def wait_until(layout, procs, checks, deadline):
    pending = dict(checks)
    while pending:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise StackError('%s exited with status %s during start-up' % (name, proc.returncode))
        for name, check in list(pending.items()):
            if check():
                del pending[name]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise StackError('no answer from %s before the start timeout (MM3_STACK_START_TIMEOUT)'
                             % ', '.join(pending))
        time.sleep(0.25)


def cmd_start(layout, fresh):
    check_installed()
    os.makedirs(layout.root, exist_ok=True)
    with open(layout.lock, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = running_info(layout)
        if info is not None and not fresh:
            print(json.dumps(info, indent=2))
            return 0
        if recorded_pids(layout):
            stop_processes(layout)
        if fresh:
            for path in (layout.core, layout.web, layout.logs, layout.run):
                shutil.rmtree(path, ignore_errors=True)
        if os.path.exists(layout.stack_json):
            os.unlink(layout.stack_json)
        for path in (layout.core_var, layout.web_state, layout.logs, os.path.join(layout.logs, 'core'),
                     layout.run):
            os.makedirs(path, exist_ok=True)
        try:
            return start_services(layout)
        except BaseException as err:
            sys.stderr.write('start failed: %s\n%s\n' % (err, log_tails(layout)))
            try:
                stop_processes(layout)
            except StackError as stop_err:
                sys.stderr.write('cleanup: %s\n' % stop_err)
            return 1


def start_services(layout):
    began = time.monotonic()
    timeout = float(os.environ.get('MM3_STACK_START_TIMEOUT') or 180)
    deadline = began + timeout
    qcluster = os.environ.get('MM3_STACK_QCLUSTER') == '1'
    wanted = {name: env_port(name) for name in ('MM3_REST_PORT', 'MM3_LMTP_PORT', 'HK_PORT')}
    for name, port in wanted.items():
        if port is not None and port_answers(port):
            raise StackError('%s=%d is already in use on 127.0.0.1' % (name, port))
    free = iter(pick_ports(3))
    ports = {name: port if port is not None else next(free) for name, port in wanted.items()}
    if len(set(ports.values())) != len(ports):
        raise StackError('ports must differ: %s' % ports)
    rest_port, lmtp_port, hk_port = ports['MM3_REST_PORT'], ports['MM3_LMTP_PORT'], ports['HK_PORT']

    rest_url = 'http://127.0.0.1:%d' % rest_port
    hk_url = 'http://127.0.0.1:%d/hyperkitty' % hk_port
    rest_password = secrets.token_urlsafe(18)
    archiver_key = secrets.token_urlsafe(24)
    env = clean_env()

    all_runners = os.environ.get('MM3_STACK_ALL_RUNNERS') == '1'
    write_core_config(layout, rest_port, lmtp_port, rest_password, hk_url, archiver_key, all_runners)
    write_web_project(layout, {
        'secret_key': secrets.token_urlsafe(40),
        'rest_url': rest_url,
        'rest_user': REST_USER,
        'rest_password': rest_password,
        'archiver_key': archiver_key,
        'database': layout.database,
        'fulltext_index': layout.fulltext_index,
        'state_dir': layout.web_state,
        'log_file': layout.log('hyperkitty.log'),
        'qcluster': qcluster,
    })

    # The master (not `mailman start`, which forks it away) so that the recorded pid is the master's;
    # --force clears a stale master.lck left by a killed run.
    procs = {'core': launch(layout, 'core', [PYTHON, MASTER_BIN, '--force', '-C', layout.mailman_cfg],
                            layout.core, env)}

    # HyperKitty's migrations run while the core boots (the core is the slower of the two).
    with open(layout.log('migrate.log'), 'ab') as out:
        migrate = subprocess.run([PYTHON, layout.manage_py, 'migrate', '--noinput'], cwd=layout.web, env=env,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 timeout=max(1.0, deadline - time.monotonic()))
    if migrate.returncode != 0:
        raise StackError('manage.py migrate failed (status %d)' % migrate.returncode)
    with sqlite3.connect(layout.database, timeout=60) as db:
        db.execute('PRAGMA journal_mode=WAL')

    procs['hyperkitty'] = launch(layout, 'hyperkitty', [
        PYTHON, '-m', 'gunicorn',
        '--bind', '127.0.0.1:%d' % hk_port,
        '--workers', '2',
        '--timeout', '300',
        '--chdir', layout.web, '--pythonpath', layout.web,
        '--name', 'mm3stack:' + layout.root,
        '--access-logfile', layout.log('hyperkitty-access.log'),
        'mm3stack_wsgi:application',
    ], layout.web, env)
    if qcluster:
        procs['qcluster'] = launch(layout, 'qcluster', [PYTHON, layout.manage_py, 'qcluster'], layout.web, env)

    auth = (REST_USER, rest_password)
    wait_until(layout, procs, {
        'Mailman REST': lambda: http_status(rest_url + '/3.1/system/versions', auth) == 200,
        'HyperKitty': lambda: http_status(hk_url + '/') == 200,
    }, deadline)

    # Runners and gunicorn workers are recorded so that stop can reach them even after the parent died.
    pids = {name: proc.pid for name, proc in procs.items()}
    pids['coreRunners'] = wait_for_runners(layout)
    pids['hyperkittyWorkers'] = record_children(layout, 'hyperkitty')
    if qcluster:
        pids['qclusterWorkers'] = record_children(layout, 'qcluster')

    info = {
        'stackVersion': STACK_VERSION,
        'workdir': layout.root,
        'restUrl': rest_url,
        'restUser': REST_USER,
        'restPassword': rest_password,
        'hyperkittyUrl': hk_url,
        'archiverKey': archiver_key,
        'lmtpHost': '127.0.0.1',
        'lmtpPort': lmtp_port,
        'pids': pids,
        'logDir': layout.logs,
        'mailmanCfg': layout.mailman_cfg,
        'djangoSettings': os.path.join(layout.web, 'mm3stack_settings.py'),
        'manageCommand': [PYTHON, layout.manage_py],
        'mailmanCommand': [PYTHON, MAILMAN_BIN] + (['--run-as-root'] if os.geteuid() == 0 else [])
        + ['-C', layout.mailman_cfg],
        'qcluster': qcluster,
        'allRunners': all_runners,
        'startSeconds': round(time.monotonic() - began, 1),
    }
    write_text(layout.stack_json, json.dumps(info, indent=2) + '\n')
    print(json.dumps(info, indent=2))
    return 0


def wait_for_runners(layout):
    """The master forks its runners at once; REST answering means the rest runner is up, the others
    may still be importing. Waits until the count is stable for a moment."""
    last, stable_since = None, time.monotonic()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kids = record_children(layout, 'core')
        if kids != last:
            last, stable_since = kids, time.monotonic()
        elif time.monotonic() - stable_since > 1.0:
            break
        time.sleep(0.2)
    return last or []


def cmd_stop(layout):
    if not os.path.isdir(layout.root):
        return 0
    with open(layout.lock, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stop_processes(layout)
        if os.path.exists(layout.stack_json):
            os.unlink(layout.stack_json)
    return 0


def cmd_status(layout):
    info = running_info(layout)
    if info is None:
        print('not running')
        return 1
    print(json.dumps(info, indent=2))
    return 0


def main(argv):
    args = [arg for arg in argv[1:] if arg != '--fresh']
    fresh = '--fresh' in argv[1:]
    if len(args) != 2 or args[0] not in ('start', 'stop', 'status'):
        sys.stderr.write(__doc__)
        return 2
    layout = Layout(args[1])
    try:
        if args[0] == 'start':
            return cmd_start(layout, fresh)
        if args[0] == 'stop':
            return cmd_stop(layout)
        return cmd_status(layout)
    except StackError as err:
        sys.stderr.write('stack.py %s: %s\n' % (args[0], err))
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
