#!/usr/bin/python3
# Run with Debian's /usr/bin/python3 (the package installs there).
# Parses a Prometheus text file with the reference client's parser
# (python3-prometheus-client) and prints one line per sample,
# "name{k=v,...} type value", labels sorted, so a C test can compare.
# Exit 1 with the parser's complaint when the file is not valid.
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    try:
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                labels = ",".join(f"{k}={v!r}" for k, v in sorted(s.labels.items()))
                print(f"{s.name}{{{labels}}} {fam.type} {fam.documentation!r} {s.value!r}")
    except Exception as e:  # the parser raises ValueError and friends
        print(f"parse error: {e}", file=sys.stderr)
        return 1
    return 0


sys.exit(main())
