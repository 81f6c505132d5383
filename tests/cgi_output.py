"""Parse what a CGI program wrote to stdout, for assertions in tests."""


class CGIOutput:
    """A CGI response (RFC 3875 §6) split into status, headers and body."""

    def __init__(self, raw):
        self.raw = raw
        head, sep, self.body = raw.partition(b"\r\n\r\n")
        assert sep, "no blank line after the CGI header block: %r" % raw[:200]
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("Status: "), "first line is not a Status header: %r" % lines[0]
        self.status = lines[0][len("Status: ") :]
        self.code = int(self.status[:3])
        self.headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(": ")
            assert colon, "malformed header line %r" % line
            self.headers.append((name, value))

    def header(self, name, default=None):
        """The value of the first header called ``name`` (any case)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "CGIOutput(%r, %r, %r)" % (self.status, self.headers, self.body[:80])
