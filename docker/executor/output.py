"""The capped, merged output of one command."""

import codecs


class Output:
    """Capped, merged stdout/stderr of one command: head kept whole, tail kept rolling."""

    def __init__(self, cap):
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = []
        self.head_len = 0
        self.tail = ""
        self.total = 0
        self.dropped = 0
        self.decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")("replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")("replace"),
        }

    def add(self, stream, data, final=False):
        """Returns the part of the text that belongs to the head (to stream), or ''."""
        text = self.decoders[stream].decode(data, final)
        if not text:
            return ""
        self.total += len(text)
        room = self.head_cap - self.head_len
        streamed = text[:room] if room > 0 else ""
        if streamed:
            self.head.append(streamed)
            self.head_len += len(streamed)
        rest = text[len(streamed):]
        if rest:
            combined = self.tail + rest
            if len(combined) > self.tail_cap:
                self.dropped += len(combined) - self.tail_cap
                combined = combined[-self.tail_cap:]
            self.tail = combined
        return streamed

    def text(self):
        head = "".join(self.head)
        if self.dropped:
            note = "\n[... %d characters of output cut here; the first %d and the last %d are kept ...]\n" % (
                self.dropped, self.head_len, len(self.tail))
            return head + note + self.tail
        return head + self.tail
