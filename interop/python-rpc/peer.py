#!/usr/bin/python3
"""An independent msgpack-rpc peer of msgpacknet, in Python over a plain socket.

The wire: MessagePack values back to back on a TCP connection, no framing.
Each side first writes the handshake [initMessage, nodeId], then reads the
peer's; after it every value is one message. The messages here are
msgpack-rpc envelopes: [0, msgid, method, params], [1, msgid, error, result],
[2, method, params], and the cancel [2, "$/cancelRequest", [msgid]].

Usage (run with Debian's /usr/bin/python3 and its python3-msgpack):
  peer.py listen            serves echo, fail, poke, hang; prints LISTENING host:port
  peer.py connect HOST:PORT calls add [2, 3], nosuch [], throws [] and prints the answers

Every line it prints is one event, for the spec to wait on:
  LISTENING host:port
  HANDSHAKE init=<repr> id=<peer id>
  REQUEST <msgid> <method>
  RESPONSE <msgid> <json [error, result]>
  NOTIFY <method> <json params>
  CANCEL <msgid>
  EOF
"""

import json
import socket
import sys

import msgpack

NODE_ID = "py"
REQUEST, RESPONSE, NOTIFICATION = 0, 1, 2
CANCEL_METHOD = "$/cancelRequest"


def say(*parts):
    print(*parts, flush=True)


def as_json(value):
    return json.dumps(value, separators=(",", ":"), default=lambda v: {"$bytes": v.hex()})


class Peer:
    def __init__(self, sock):
        self.sock = sock
        self.unpacker = msgpack.Unpacker(raw=False)

    def write(self, value):
        self.sock.sendall(msgpack.packb(value, use_bin_type=True))

    def values(self):
        """Every value the peer sends, decoded as the bytes come (a streaming feed)."""
        while True:
            data = self.sock.recv(65536)
            if not data:
                say("EOF")
                return
            self.unpacker.feed(data)
            for value in self.unpacker:
                yield value

    def handshake(self, values):
        self.write([None, NODE_ID])
        hello = next(values)
        if not (isinstance(hello, list) and len(hello) == 2):
            raise ValueError("bad handshake: %r" % (hello,))
        say("HANDSHAKE init=%r id=%s" % (hello[0], hello[1]))

    def serve(self, values):
        for message in values:
            if not isinstance(message, list) or not message:
                say("OTHER", as_json(message))
                continue
            kind = message[0]
            if kind == REQUEST:
                _, msgid, method, params = message
                say("REQUEST", msgid, method)
                self.answer(msgid, method, params)
            elif kind == RESPONSE:
                _, msgid, error, result = message
                say("RESPONSE", msgid, as_json([error, result]))
            elif kind == NOTIFICATION:
                _, method, params = message
                if method == CANCEL_METHOD:
                    say("CANCEL", params[0])
                else:
                    say("NOTIFY", method, as_json(params))
            else:
                say("OTHER", as_json(message))

    def answer(self, msgid, method, params):
        if method == "echo":
            self.write([RESPONSE, msgid, None, params])
        elif method == "fail":
            error = {"code": "PY_FAIL", "message": "python says no", "data": {"why": [1, 2]}}
            self.write([RESPONSE, msgid, error, None])
        elif method == "poke":
            # a notification of its own first, then the answer
            self.write([NOTIFICATION, "tick", ["from py", 7]])
            self.write([RESPONSE, msgid, None, "poked"])
        elif method == "hang":
            pass  # never answered: the caller times out and cancels
        else:
            error = {"code": "NO_SUCH_METHOD", "message": "python has no %s" % method}
            self.write([RESPONSE, msgid, error, None])


def listen():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    host, port = server.getsockname()
    say("LISTENING %s:%d" % (host, port))
    sock, _ = server.accept()
    server.close()
    peer = Peer(sock)
    values = peer.values()
    peer.handshake(values)
    peer.serve(values)


def connect(address):
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    peer = Peer(sock)
    values = peer.values()
    peer.handshake(values)
    peer.write([REQUEST, 1, "add", [2, 3]])
    peer.write([REQUEST, 2, "nosuch", []])
    peer.write([REQUEST, 3, "throws", []])
    peer.serve(values)


def main(argv):
    if len(argv) >= 1 and argv[0] == "listen":
        listen()
    elif len(argv) >= 2 and argv[0] == "connect":
        connect(argv[1])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
