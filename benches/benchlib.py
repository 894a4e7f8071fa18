"""What the Python benchmarks share: RESP encoding of a command and a free loopback port."""

import socket


def resp(*args):
    """A command as a RESP multibulk array (bytes, str or numbers as arguments)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def free_port():
    """A loopback port nothing listens on at the moment of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
