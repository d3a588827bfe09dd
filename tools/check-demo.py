#!/usr/bin/env python3
"""Independent check of `embargo demo` output, with no Embargo code: Python's standard library for
RFC 6962 hashing, base64 and JSON, and the openssl command for Ed25519 signatures.

    python3 tools/check-demo.py embargo-demo

Checks: (1) the RFC 6962 root of ledger.jsonl equals the checkpoint's root and size; (2) the checkpoint's
signed-note signature verifies under ledger.vkey; (3) the DSSE signature of certificate.dsse.json verifies
under certifier.pub.pem; (4) the certificate lists the sha256 of every file under weights/.
Exit 0 when all hold, 1 otherwise (with the first failure on stderr)."""
import base64, hashlib, json, os, subprocess, sys, tempfile

def fail(msg):
    print(f"check-demo: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)

def mth(hashes):
    """RFC 6962 Merkle Tree Hash over leaf hashes (split at the largest power of two < n)."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()

def ed25519_verify(raw_pub_or_pem, message, signature):
    with tempfile.TemporaryDirectory() as d:
        if isinstance(raw_pub_or_pem, bytes):  # raw 32-byte key -> SPKI PEM
            der = bytes.fromhex("302a300506032b6570032100") + raw_pub_or_pem
            pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n"
        else:
            pem = raw_pub_or_pem
        paths = {name: os.path.join(d, name) for name in ("key.pem", "msg", "sig")}
        open(paths["key.pem"], "w").write(pem)
        open(paths["msg"], "wb").write(message)
        open(paths["sig"], "wb").write(signature)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths["key.pem"], "-rawin",
                            "-in", paths["msg"], "-sigfile", paths["sig"]], capture_output=True)
        return r.returncode == 0

def main(out):
    # (1) ledger root vs checkpoint
    leaves = []
    with open(os.path.join(out, "ledger.jsonl"), "rb") as f:
        for i, line in enumerate(f):
            obj = json.loads(line)
            if obj.get("index") != i:
                fail(f"ledger.jsonl line {i + 1} has index {obj.get('index')}")
            leaves.append(base64.b64decode(obj["leaf"], validate=True))
    note = open(os.path.join(out, "checkpoint.txt"), "rb").read().decode("utf-8")
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        fail("checkpoint.txt is not a signed note")
    lines = body.split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    computed = mth([hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves])
    if size != len(leaves):
        fail(f"checkpoint size {size} but ledger.jsonl has {len(leaves)} leaves")
    if computed != root:
        fail(f"RFC 6962 root of ledger.jsonl {computed.hex()} != checkpoint root {root.hex()}")
    print(f"ok  ledger: RFC 6962 root of {len(leaves)} leaves = checkpoint root {root.hex()[:16]}…")

    # (2) checkpoint signature under the note verifier key name+hash+base64(0x01||pub)
    name, keyhash, keyb64 = open(os.path.join(out, "ledger.vkey")).read().strip().split("+", 2)
    key = base64.b64decode(keyb64, validate=True)
    if key[0] != 1 or len(key) != 33:
        fail("ledger.vkey is not an Ed25519 note key")
    if hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() != keyhash:
        fail("ledger.vkey key hash does not match its key")
    verified = False
    for line in sigs.split("\n"):
        if not line.startswith("\u2014 " + name + " "):
            continue
        blob = base64.b64decode(line.split(" ")[2], validate=True)
        if blob[:4].hex() == keyhash and ed25519_verify(key[1:], (body + "\n").encode(), blob[4:]):
            verified = True
    if not verified:
        fail("no checkpoint signature verifies under ledger.vkey")
    print(f"ok  checkpoint: signed note verifies under {name}")

    # (3) DSSE signature: Ed25519 over PAE(payloadType, payload)
    env = json.load(open(os.path.join(out, "certificate.dsse.json")))
    payload = base64.b64decode(env["payload"], validate=True)
    ptype = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    pem = open(os.path.join(out, "certifier.pub.pem")).read()
    if not any(ed25519_verify(pem, pae, base64.b64decode(s["sig"], validate=True)) for s in env["signatures"]):
        fail("no DSSE signature verifies under certifier.pub.pem")
    statement = json.loads(payload)
    print(f"ok  certificate: DSSE signature verifies; {statement['_type']} for {statement['subject'][0]['name']}")

    # (4) every file under weights/ is listed with its sha256
    listed = {w["path"]: w["sha256"] for w in statement["predicate"]["weights"]}
    wdir = os.path.join(out, "weights")
    found = {}
    for root_dir, _, files in os.walk(wdir):
        for fn in files:
            path = os.path.join(root_dir, fn)
            found[os.path.relpath(path, wdir).replace(os.sep, "/")] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if found != listed:
        fail(f"weights/ files {sorted(found.items())} differ from the certificate's {sorted(listed.items())}")
    print(f"ok  weights: the certificate lists the sha256 of all {len(found)} files under weights/")

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
