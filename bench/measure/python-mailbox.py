"""The Python standard library baseline: mailbox.mbox + email, on the same file as the indexer.

For every message: the headers the indexer stores (Message-ID, Date parsed to a datetime, From split
and RFC 2047-decoded, Subject decoded, In-Reply-To, References) and the first text/plain body part
decoded with get_payload(decode=True) and its charset. Prints one JSON line like the Node children.
"""
import email.header
import email.utils
import json
import mailbox
import os
import resource
import sys
import time


def decoded(value):
    if value is None:
        return None
    try:
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        return str(value)


def text_body(msg):
    for part in msg.walk():
        if part.get_content_type() != 'text/plain' or part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            return None
        try:
            return payload.decode(part.get_content_charset() or 'us-ascii', 'replace')
        except LookupError:
            return payload.decode('latin-1')
    return None


def main():
    path = sys.argv[sys.argv.index('--file') + 1]
    started = time.perf_counter()
    messages = 0
    body_chars = 0
    bad_dates = 0
    for msg in mailbox.mbox(path, create=False):
        messages += 1
        msg.get('Message-ID')
        try:
            email.utils.parsedate_to_datetime(msg.get('Date', ''))
        except (TypeError, ValueError, IndexError):
            bad_dates += 1
        name, _addr = email.utils.parseaddr(str(msg.get('From', '')))
        decoded(name)
        decoded(msg.get('Subject'))
        msg.get('In-Reply-To')
        msg.get('References')
        body = text_body(msg)
        body_chars += len(body) if body else 0
    seconds = time.perf_counter() - started
    print(json.dumps({
        'seconds': seconds,
        'bytes': os.path.getsize(path),
        'messages': messages,
        'badDates': bad_dates,
        'bodyChars': body_chars,
        'python': sys.version.split()[0],
        # ru_maxrss is in kilobytes on Linux.
        'peakRssBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == '__main__':
    main()
