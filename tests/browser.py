"""Headless Chromium with a fresh profile, driven over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: JSON messages ending in a NUL byte, on the browser's file
descriptors 3 and 4), so a test can ask a page where its elements are on screen."""

import contextlib
import fcntl
import json
import os
import subprocess
import tempfile
import time


class Page:
    def __init__(self, to_browser, from_browser):
        self.to_browser, self.from_browser = to_browser, from_browser
        self.next_id, self.buffer, self.session = 0, b"", None

    def call(self, method, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium closed the pipe during {method}")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    def wait_for(self, expression, timeout=120):
        """Evaluate `expression` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.5)
        raise TimeoutError(f"the page never gave {expression!r}")


def _high(fd):
    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)


@contextlib.contextmanager
def opened(url, width, height):
    """The page at `url` in a fresh profile, the window `width` x `height` pixels."""
    to_read, to_write = os.pipe()
    from_read, from_write = os.pipe()

    def browser_descriptors():
        reading, writing = _high(to_read), _high(from_write)
        os.dup2(reading, 3)
        os.dup2(writing, 4)

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                                    f"--window-size={width},{height}", "--remote-debugging-pipe", "about:blank"],
                                   # Only 3 and 4 are inherited: Python opens every other descriptor
                                   # close-on-exec, and dup2 makes its copies inheritable.
                                   preexec_fn=browser_descriptors, close_fds=False,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_read)
        os.close(from_write)
        try:
            page = Page(to_write, from_read)
            target = next(target for target in page.call("Target.getTargets")["targetInfos"] if target["type"] == "page")
            page.session = page.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
            page.call("Page.navigate", url=url)
            yield page
        finally:
            browser.kill()
            browser.wait()
            os.close(to_write)
            os.close(from_read)
