"""smtpkit-recv when its store fails: the disk full (a small tmpfs mounted by
the test, or a loop-mounted file system when tmpfs cannot be mounted), no
inode left, the file system read-only, Maildir's new/ gone, and an mbox
whose append runs out of space half way.

Each time the client hears a 4xx (451 4.3.0: at DATA when the message
cannot even be begun, after the data when it cannot be stored), nothing
partial is left (tmp/ empty, new/ unchanged, the mbox truncated back), and
the client can retry on the same connection -- and succeeds, exactly once,
byte for byte, when the fault is gone.

Needs root (mount). Without it, or when neither tmpfs nor a loop mount
works, the test FAILS: it never skips."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Client, Recv, check, fail, maildir_files, strip_received  # noqa: E402
from fault_helper import alive  # noqa: E402


def sh(*cmd):
    return subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class Mount:
    """A small file system at `path`: tmpfs, else ext2 in a loop file."""

    def __init__(self, path, size_kb, inodes=None):
        self.path = path
        self.kind = None
        self.image = None
        os.makedirs(path, exist_ok=True)
        if os.geteuid() != 0:
            fail("this test mounts a small tmpfs and needs root (uid %d)" % os.geteuid())
        opts = "size=%dk,mode=0700" % size_kb + (",nr_inodes=%d" % inodes if inodes else "")
        p = sh("mount", "-t", "tmpfs", "-o", opts, "smtpkit-fault", path)
        if p.returncode == 0:
            self.kind = "tmpfs"
            return
        print("NOTE: cannot mount tmpfs (%s); trying a loop-mounted ext2 file"
              % p.stdout.decode(errors="replace").strip(), flush=True)
        self.image = path.rstrip("/") + ".img"
        with open(self.image, "wb") as f:
            f.truncate(size_kb * 1024)
        mk = ["mkfs.ext2", "-q", "-F", "-m", "0"] + (["-N", str(inodes)] if inodes else [])
        p2 = sh(*(mk + [self.image]))
        p3 = sh("mount", "-o", "loop", self.image, path) if p2.returncode == 0 else p2
        if p3.returncode != 0:
            fail("LOUD FAILURE: cannot mount a small file system for the disk-full test: "
                 "tmpfs: %s; loop: %s" % (p.stdout.decode(errors="replace").strip(),
                                          p3.stdout.decode(errors="replace").strip()))
        self.kind = "ext2 loop"

    def remount(self, mode):
        p = sh("mount", "-o", "remount," + mode, self.path)
        check(p.returncode == 0, "remount %s: %s" % (mode, p.stdout.decode(errors="replace")))

    def close(self):
        sh("umount", "-l", self.path)
        if self.image:
            os.unlink(self.image)


def fill(path, leave=0):
    """Fill the file system with a file until no space is left, then give
    back `leave` bytes. Returns the filler's path."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"\0" * 65536
        while True:
            try:
                if os.write(fd, chunk) <= 0:
                    break
            except OSError:
                if len(chunk) == 1:
                    break
                chunk = chunk[:len(chunk) // 2]  # the last pages
        end = os.lseek(fd, 0, os.SEEK_END)
        os.ftruncate(fd, max(end - leave, 0))
    finally:
        os.close(fd)
    return filler


def transaction(c, body, expect_data=354):
    """MAIL, RCPT, DATA on an open session. Returns the reply after the data
    (code, lines), or the DATA reply when it is not 354."""
    c.send(b"MAIL FROM:<a@example.org>\r\n")
    c.expect(250)
    c.send(b"RCPT TO:<b@example.net>\r\n")
    c.expect(250)
    c.send(b"DATA\r\n")
    code, lines = c.reply()
    if code != 354:
        check(code == expect_data, "DATA: expected %d, got %r" % (expect_data, lines))
        # a refused DATA leaves the transaction open (RFC 5321 4.1.1.4):
        # a client that retries says RSET first, as smtplib and Postfix do
        c.send(b"RSET\r\n")
        c.expect(250)
        return code, lines
    check(expect_data == 354, "DATA: expected %d, got 354" % expect_data)
    c.send(body + b".\r\n")
    return c.reply()


def body_of(n, tag):
    lines = [b"Subject: %s\r\n\r\n" % tag]
    i = 0
    while sum(map(len, lines)) < n:
        lines.append(b"%s line %06d of filler text for the disk test\r\n" % (tag, i))
        i += 1
    return b"".join(lines)


def session(port):
    c = Client(port)
    c.expect(220)
    c.send(b"EHLO client.example\r\n")
    c.expect(250)
    return c


def check_4xx(code, lines, what):
    check(code == 451 and lines[0].startswith("451 4.3.0"), "%s: expected 451 4.3.0, got %r"
          % (what, lines))


def maildir_checks(m, r, md):
    body = body_of(60000, b"full")
    # 1. the disk full: the message cannot be written
    filler = fill(m.path)
    c = session(r.port)
    code, lines = transaction(c, body)
    check_4xx(code, lines, "disk full")
    check(maildir_files(md) == [] and maildir_files(md, "tmp") == [], "disk full: left behind")
    # the client retries on the same connection: the disk is still full
    code, lines = transaction(c, body)
    check_4xx(code, lines, "disk still full")
    # 2. space for a part of it only: a write fails in the middle
    os.unlink(filler)
    filler = fill(m.path, leave=16384)
    code, lines = transaction(c, body)
    check_4xx(code, lines, "disk full half way")
    check(maildir_files(md) == [] and maildir_files(md, "tmp") == [], "half way: left behind")
    # 3. space again: the retry on the same connection is stored once
    os.unlink(filler)
    code, lines = transaction(c, body)
    check(code == 250, "retry after the disk was freed: %r" % lines)
    names = maildir_files(md)
    check(len(names) == 1, "one message after the retry, found %d" % len(names))
    with open(os.path.join(md, "new", names[0]), "rb") as f:
        check(strip_received(f.read()) == body, "the retried message is byte-exact")
    check(lines[0].endswith(names[0]), "queue id is the file name: %r" % lines)
    # 4. read-only: the message cannot be begun -> 451 at DATA
    m.remount("ro")
    code, lines = transaction(c, body, expect_data=451)
    check_4xx(code, lines, "read-only file system")
    m.remount("rw")
    code, lines = transaction(c, body)
    check(code == 250, "retry after remount rw: %r" % lines)
    # 5. new/ gone: the rename fails after the data; tmp/ is cleaned
    os.rename(os.path.join(md, "new"), os.path.join(md, "new.away"))
    code, lines = transaction(c, body)
    check_4xx(code, lines, "Maildir new/ missing")
    check(maildir_files(md, "tmp") == [], "new/ missing: tmp/ not cleaned")
    os.rename(os.path.join(md, "new.away"), os.path.join(md, "new"))
    code, lines = transaction(c, body)
    check(code == 250, "retry with new/ back: %r" % lines)
    c.send(b"QUIT\r\n")
    c.expect(221)
    c.close()
    check(len(maildir_files(md)) == 3 and maildir_files(md, "tmp") == [],
          "three messages in new/, nothing in tmp/: %r" % (maildir_files(md),))
    for n in maildir_files(md):
        with open(os.path.join(md, "new", n), "rb") as f:
            check(strip_received(f.read()) == body, "every stored message is byte-exact")


def inode_checks(m, r, md):
    """No inode left: the tmp file cannot be created -> 451 at DATA."""
    made = []
    i = 0
    while True:
        p = os.path.join(m.path, "i%d" % i)
        try:
            open(p, "wb").close()
        except OSError:
            break
        made.append(p)
        i += 1
        check(i < 100000, "the inode limit does not work")
    body = body_of(2000, b"inode")
    c = session(r.port)
    code, lines = transaction(c, body, expect_data=451)
    check_4xx(code, lines, "no inode left")
    os.unlink(made.pop())
    code, lines = transaction(c, body)
    check(code == 250, "retry with an inode free: %r" % lines)
    c.send(b"QUIT\r\n")
    c.expect(221)
    names = maildir_files(md)
    check(len(names) == 1 and maildir_files(md, "tmp") == [], "one message: %r" % names)


def mbox_checks(m, r, mbox):
    """The staging copy fits, the append does not: the mbox is cut back."""
    first = body_of(3000, b"first")
    c = session(r.port)
    code, lines = transaction(c, first)
    check(code == 250, "first mbox message: %r" % lines)
    size0 = os.path.getsize(mbox)
    body = body_of(300000, b"mbox")
    filler = fill(m.path, leave=450000)  # staging (300 KB) fits, staging + append does not
    code, lines = transaction(c, body)
    check_4xx(code, lines, "mbox append out of space")
    check(os.path.getsize(mbox) == size0, "the mbox was not truncated back: %d != %d"
          % (os.path.getsize(mbox), size0))
    check(sorted(os.listdir(m.path)) == ["filler", "mbox"], "left behind: %r" % os.listdir(m.path))
    os.unlink(filler)
    code, lines = transaction(c, body)
    check(code == 250, "mbox retry: %r" % lines)
    c.send(b"QUIT\r\n")
    c.expect(221)
    with open(mbox, "rb") as f:
        data = f.read()
    check(data.count(b"\nFrom ") + data.startswith(b"From ") == 2, "two messages in the mbox")
    check(data.endswith(body.replace(b"\r\n", b"\n") + b"\n"), "the retried mbox message")


def main():
    base = tempfile.mkdtemp(prefix="smtpkit-disk-")
    mounts = []
    try:
        m = Mount(os.path.join(base, "fs"), 512)
        mounts.append(m)
        md = os.path.join(m.path, "Maildir")
        with Recv("--maildir", md, "--hostname", "mx.example.net", "--quiet") as r:
            maildir_checks(m, r, md)
            alive(r)
            check(r.stop() == 0, "exit status")
        m.close()
        mounts.pop()
        m = Mount(os.path.join(base, "fs2"), 1024, inodes=64)
        mounts.append(m)
        md = os.path.join(m.path, "Maildir")
        with Recv("--maildir", md, "--hostname", "mx.example.net", "--quiet") as r:
            inode_checks(m, r, md)
            alive(r)
            check(r.stop() == 0, "exit status")
        m.close()
        mounts.pop()
        m = Mount(os.path.join(base, "fs3"), 1024)
        mounts.append(m)
        mbox = os.path.join(m.path, "mbox")
        with Recv("--mbox", mbox, "--hostname", "mx.example.net", "--quiet") as r:
            mbox_checks(m, r, mbox)
            alive(r)
            check(r.stop() == 0, "exit status")
        print("ok: disk full (whole and half way), no inode, read-only, new/ missing, "
              "mbox append out of space: 451 4.3.0, nothing partial, retry stored once (%s)"
              % m.kind)
    finally:
        for m in mounts:
            m.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
