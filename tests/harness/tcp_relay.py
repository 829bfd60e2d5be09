#!/usr/bin/python3
"""tcp_relay.py LISTEN_PORT TARGET_PORT: relays every TCP connection on
127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT, byte for byte (TLS passes
through untouched). The network link of a test: killing this process cuts
every connection through it at once (the kernel closes the sockets),
starting it again restores the link; the brokers on both sides stay up."""
import socket
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(listen_port, target_port):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", listen_port))
    lsock.listen(64)
    while True:
        client, _ = lsock.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port))
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: tcp_relay.py LISTEN_PORT TARGET_PORT")
    serve(int(sys.argv[1]), int(sys.argv[2]))
