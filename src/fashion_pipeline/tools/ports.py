"""TCP ports on this machine: one that is free, and a check that the one asked for is."""

import socket

from fashion_pipeline.errors import StageError


def free_port():
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_port(host, port, setting):
    """Refuse, in one line, a port something else listens on; `setting` says how to pick another
    (`make serve SERVE_PORT=<port>`)."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise StageError(f"port {port} on {host} is taken ({error.strerror}); stop what uses it, or choose "
                             f"another: {setting}") from None
