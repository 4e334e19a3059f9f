#!/usr/bin/env python3
"""A small strategy for `type: futures-session` (see docs/futures-sessions.md).

schedctl writes one JSON object per line to stdin (session start/stop, quotes, orders, fills,
positions, cash, results and rejects) and reads intents, one JSON object per line, from stdout.
This one buys one contract with a limit order one point under the first quote, then offers it
out two points higher. Every tag is unique per idea: after a restart the same intents are
replayed and schedctl answers "duplicate" instead of sending them again.
"""
import json
import sys

TARGET = 2.0


def send(intent):
    sys.stdout.write(json.dumps(intent) + "\n")
    sys.stdout.flush()


def log(text):
    sys.stderr.write(text + "\n")  # goes to the run's log
    sys.stderr.flush()


entered = False
for line in sys.stdin:
    message = json.loads(line)
    kind = message.get("type")
    if kind == "session" and message.get("event") == "stop":
        break
    if kind in ("risk-limit", "risk-stale", "flatten-failed"):
        log(kind + ": " + message.get("message", ""))  # schedctl cancels and flattens itself
    elif kind == "quote" and not entered and message.get("last") is not None:
        entered = True
        price = float(message["last"]) - 1.0
        send({"type": "order", "side": "buy", "qty": 1, "order": "limit", "price": price, "tag": "entry-1"})
    elif kind == "fill" and message.get("side") == "buy":
        exit_price = float(message["price"]) + TARGET
        send({"type": "order", "side": "sell", "qty": 1, "order": "limit", "price": exit_price, "tag": "exit-1"})
    elif kind == "reject":
        log("rejected %s: %s" % (message.get("tag"), message.get("reason")))
