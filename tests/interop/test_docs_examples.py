#!/usr/bin/env python3
"""The guides' code cannot rot: every C block in docs/*.md is an excerpt of
a program in examples/ that the build compiles (and interop.examples runs).

A block is marked by an HTML comment on the line before its fence:

    <!-- example: examples/server_epoll.c -->
    ```c
    static void on_conn_readable(conn *c)
    {
        ...
    }
    ```

Each line of the block must be a line of that file (compared without
leading and trailing white space), in the same order and consecutive; a
line that is just "..." stands for lines left out. Also checked: every
examples/... path a guide mentions exists, and every guide the README links
to exists.
"""
import os
import re
import sys

SRC = os.environ.get("SMTPKIT_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(SRC, "docs")
MARK = re.compile(r"<!--\s*example:\s*(\S+)\s*-->")

passed = 0
failed = 0


def ok(msg):
    global passed
    passed += 1
    print("ok   - " + msg)


def bad(msg):
    global failed
    failed += 1
    print("FAIL - " + msg)


def blocks(text):
    """(line number, marker path or None, block lines) for each ```c block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```c":
            start = i
            marker = None
            j = i - 1
            while j >= 0 and lines[j].strip() == "":
                j -= 1
            if j >= 0:
                m = MARK.search(lines[j])
                if m:
                    marker = m.group(1)
            body = []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            yield start + 1, marker, body
        i += 1


def matches(body, file_lines):
    """True when the block's lines appear in order, consecutive between '...'."""
    groups, cur = [], []
    for line in body:
        s = line.strip()
        if s in ("...", "/* ... */"):
            if cur:
                groups.append(cur)
            cur = []
        elif s:
            cur.append(s)
    if cur:
        groups.append(cur)
    stripped = [l.strip() for l in file_lines]
    pos = 0
    for g in groups:
        found = -1
        for k in range(pos, len(stripped) - len(g) + 1):
            if stripped[k] == g[0]:
                # allow blank lines in the file between the group's lines
                n, m = k, 0
                while n < len(stripped) and m < len(g):
                    if stripped[n] == g[m]:
                        m += 1
                    elif stripped[n] != "":
                        break
                    n += 1
                if m == len(g):
                    found = n
                    break
        if found < 0:
            return False, g[0]
        pos = found
    return True, None


def main():
    guides = sorted(f for f in os.listdir(DOCS) if f.endswith(".md"))
    nblocks = 0
    for g in guides:
        path = os.path.join(DOCS, g)
        text = open(path, encoding="utf-8").read()
        for lineno, marker, body in blocks(text):
            nblocks += 1
            where = "docs/%s:%d" % (g, lineno)
            if not marker:
                bad("%s: a C block without <!-- example: examples/FILE.c --> "
                    "(put the code in an example and quote it)" % where)
                continue
            src = os.path.join(SRC, marker)
            if not os.path.isfile(src):
                bad("%s: %s does not exist" % (where, marker))
                continue
            good, first = matches(body, open(src, encoding="utf-8").read().split("\n"))
            if good:
                ok("%s is an excerpt of %s (%d lines)" % (where, marker, len(body)))
            else:
                bad("%s: not in %s from the line: %s" % (where, marker, first))
        for ref in sorted(set(re.findall(r"examples/[A-Za-z0-9_./-]+\.(?:c|sh)", text))):
            if not os.path.exists(os.path.join(SRC, ref)):
                bad("docs/%s mentions %s, which does not exist" % (g, ref))
    if nblocks == 0:
        bad("no C block found in docs/")
    readme = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
    links = sorted(set(re.findall(r"\((docs/[A-Za-z0-9_./-]+\.md)\)", readme)))
    missing = [l for l in links if not os.path.isfile(os.path.join(SRC, l))]
    if links and not missing:
        ok("README links to %d guides, all present" % len(links))
    else:
        bad("README guide links: %d, missing: %s" % (len(links), missing))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
